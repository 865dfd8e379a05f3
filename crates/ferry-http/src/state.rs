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
}

impl AppState {
    pub(crate) fn new(broker: Broker) -> AppState {
        AppState {
            broker,
            ready: Arc::new(AtomicBool::new(true)),
        }
    }

    pub(crate) fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    pub(crate) fn set_draining(&self) {
        self.ready.store(false, Ordering::Relaxed);
    }
}
