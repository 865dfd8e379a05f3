//! What every handler can reach.

use ferry_broker::Broker;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The broker, and whether the server still takes new work.
#[derive(Clone)]
pub(crate) struct AppState {
    /// The one API every handler calls.
    pub(crate) broker: Broker,
    /// Cleared when graceful shutdown starts, so `/health/ready` turns 503 while in-flight
    /// requests finish.
    ready: Arc<AtomicBool>,
    /// Turns `true` with `ready` turning false: endless replies (server-sent events) end on
    /// it, since graceful shutdown waits for every reply to finish.
    draining: Arc<tokio::sync::watch::Sender<bool>>,
    /// Server metrics and the sampled history (`/metrics`, `/v1/metrics/history`).
    pub(crate) observer: Arc<crate::metrics::Observer>,
}

impl AppState {
    pub(crate) fn new(broker: Broker) -> AppState {
        let observer = crate::metrics::Observer::new(
            crate::server::DEFAULT_HISTORY_INTERVAL,
            crate::server::DEFAULT_HISTORY_SAMPLES,
        );
        AppState::with_observer(broker, Arc::new(observer))
    }

    /// The state of a server whose metrics live in `observer`.
    pub(crate) fn with_observer(
        broker: Broker,
        observer: Arc<crate::metrics::Observer>,
    ) -> AppState {
        AppState {
            broker,
            ready: Arc::new(AtomicBool::new(true)),
            draining: Arc::new(tokio::sync::watch::channel(false).0),
            observer,
        }
    }

    pub(crate) fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    pub(crate) fn set_draining(&self) {
        self.ready.store(false, Ordering::Relaxed);
        self.draining.send_replace(true);
    }

    /// Turns `true` once graceful shutdown starts.
    pub(crate) fn draining(&self) -> tokio::sync::watch::Receiver<bool> {
        self.draining.subscribe()
    }
}
