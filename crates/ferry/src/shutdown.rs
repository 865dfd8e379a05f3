//! SIGINT and SIGTERM, registered before the server announces itself so that a signal sent
//! right after the announcement is never lost to the default handler.

use tokio::signal::unix::{Signal, SignalKind, signal};

/// The process's shutdown signals.
pub(crate) struct Signals {
    interrupt: Signal,
    terminate: Signal,
}

impl Signals {
    /// Starts listening for SIGINT and SIGTERM.
    ///
    /// # Errors
    /// When the handlers cannot be installed.
    pub(crate) fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// Waits for the next signal; returns its name.
    pub(crate) async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
        }
    }
}
