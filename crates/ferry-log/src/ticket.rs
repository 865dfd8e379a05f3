//! [`SyncTicket`]: the answer to [`crate::Log::sync`], completed by the flusher thread and
//! awaited by a tokio task (as a future) or by sync code (with [`SyncTicket::wait`]).

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use crate::LogError;
use crate::error::clone_io_error;

/// Why a sync failed, in a form every waiter of a round can get a copy of.
#[derive(Clone, Debug)]
pub(crate) enum Failure {
    Poisoned,
    FlusherStopped,
    Io {
        path: PathBuf,
        error: Arc<io::Error>,
    },
}

impl Failure {
    fn to_error(&self) -> LogError {
        match self {
            Failure::Poisoned => LogError::Poisoned,
            Failure::FlusherStopped => LogError::FlusherStopped,
            Failure::Io { path, error } => LogError::Io {
                context: "sync segment",
                path: path.clone(),
                source: clone_io_error(error),
            },
        }
    }
}

pub(crate) type Outcome = Result<(), Failure>;

/// A one-shot completion shared by the flusher (which completes it) and one ticket.
#[derive(Debug, Default)]
pub(crate) struct Completion {
    state: Mutex<CompletionState>,
    finished: Condvar,
}

#[derive(Debug, Default)]
struct CompletionState {
    outcome: Option<Outcome>,
    waker: Option<Waker>,
}

impl Completion {
    fn lock(&self) -> MutexGuard<'_, CompletionState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets the outcome (the first one wins) and wakes the waiter.
    pub(crate) fn complete(&self, outcome: Outcome) {
        let waker = {
            let mut state = self.lock();
            if state.outcome.is_some() {
                return;
            }
            state.outcome = Some(outcome);
            state.waker.take()
        };
        self.finished.notify_all();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    pub(crate) fn is_complete(&self) -> bool {
        self.lock().outcome.is_some()
    }

    fn poll(&self, cx: &mut Context<'_>) -> Poll<Outcome> {
        let mut state = self.lock();
        match &state.outcome {
            Some(outcome) => Poll::Ready(outcome.clone()),
            None => {
                match &mut state.waker {
                    Some(waker) => waker.clone_from(cx.waker()),
                    None => state.waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
        }
    }

    /// Blocks until the outcome is set, and returns it.
    pub(crate) fn wait(&self) -> Outcome {
        let mut state = self.lock();
        loop {
            if let Some(outcome) = &state.outcome {
                return outcome.clone();
            }
            state = self
                .finished
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// Completes once the records appended before [`crate::Log::sync`] was called are durable
/// under the log's [`crate::FsyncPolicy`].
///
/// Await it from async code, or call [`SyncTicket::wait`] from sync code. It is `Send` and
/// `Unpin`; dropping it does not cancel the sync.
#[derive(Debug)]
#[must_use = "a sync ticket does nothing unless awaited or waited on"]
pub struct SyncTicket {
    state: TicketState,
}

#[derive(Debug)]
enum TicketState {
    Ready(Outcome),
    Waiting(Arc<Completion>),
}

impl SyncTicket {
    pub(crate) fn ready(outcome: Outcome) -> SyncTicket {
        SyncTicket {
            state: TicketState::Ready(outcome),
        }
    }

    pub(crate) fn waiting(completion: Arc<Completion>) -> SyncTicket {
        SyncTicket {
            state: TicketState::Waiting(completion),
        }
    }

    /// Whether the outcome is known, so that awaiting or waiting returns at once.
    pub fn is_ready(&self) -> bool {
        match &self.state {
            TicketState::Ready(_) => true,
            TicketState::Waiting(completion) => completion.is_complete(),
        }
    }

    /// Blocks the calling thread until the sync is done. For tests and sync code: in async
    /// code, `.await` the ticket instead, since this blocks a runtime worker.
    ///
    /// # Errors
    ///
    /// [`LogError::Io`] if the fsync failed (the log is then poisoned), [`LogError::Poisoned`]
    /// if the log already was, [`LogError::FlusherStopped`] if the flusher thread went away
    /// without serving the request.
    pub fn wait(self) -> Result<(), LogError> {
        let outcome = match self.state {
            TicketState::Ready(outcome) => outcome,
            TicketState::Waiting(completion) => completion.wait(),
        };
        outcome.map_err(|failure| failure.to_error())
    }
}

impl Future for SyncTicket {
    type Output = Result<(), LogError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let outcome = match &self.get_mut().state {
            TicketState::Ready(outcome) => Poll::Ready(outcome.clone()),
            TicketState::Waiting(completion) => completion.poll(cx),
        };
        outcome.map(|outcome| outcome.map_err(|failure| failure.to_error()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::task::Wake;
    use std::thread;

    struct Flag(std::sync::atomic::AtomicBool);

    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    fn assert_send_unpin<T: Send + Unpin + Future>() {}

    #[test]
    fn ticket_is_a_send_unpin_future() {
        assert_send_unpin::<SyncTicket>();
    }

    #[test]
    fn polling_registers_the_waker_and_completion_wakes_it() {
        let completion = Arc::new(Completion::default());
        let mut ticket = SyncTicket::waiting(Arc::clone(&completion));
        let flag = Arc::new(Flag(false.into()));
        let waker = Waker::from(Arc::clone(&flag));
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut ticket).poll(&mut cx).is_pending());
        assert!(!ticket.is_ready());
        completion.complete(Ok(()));
        assert!(flag.0.load(std::sync::atomic::Ordering::SeqCst));
        assert!(matches!(
            Pin::new(&mut ticket).poll(&mut cx),
            Poll::Ready(Ok(()))
        ));
    }

    #[test]
    fn wait_blocks_until_completed_from_another_thread() {
        let completion = Arc::new(Completion::default());
        let ticket = SyncTicket::waiting(Arc::clone(&completion));
        let completer = thread::spawn(move || completion.complete(Err(Failure::Poisoned)));
        assert!(matches!(ticket.wait(), Err(LogError::Poisoned)));
        completer.join().unwrap();
    }

    #[test]
    fn first_outcome_wins() {
        let completion = Completion::default();
        completion.complete(Ok(()));
        completion.complete(Err(Failure::FlusherStopped));
        assert!(matches!(completion.wait(), Ok(())));
    }
}
