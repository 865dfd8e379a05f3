//! Serving the router on a listener, with graceful shutdown.

use crate::state::AppState;
use axum::Router;
use ferry_broker::Broker;
use std::future::Future;
use tokio::net::TcpListener;

/// Default largest request body: 32 MiB.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 32 * 1024 * 1024;
/// Default time between samples of the metrics history.
pub const DEFAULT_HISTORY_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);
/// Default number of samples the metrics history keeps (10 minutes at 5 s).
pub const DEFAULT_HISTORY_SAMPLES: usize = 120;

/// Settings of the HTTP server.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct HttpConfig {
    /// Largest request body accepted; a larger one is refused with 413 `request_too_large`
    /// before it is read, so a client cannot make the server buffer without bound.
    pub max_request_bytes: usize,
    /// Time between samples of the metrics history behind the dashboard's charts.
    pub history_interval: std::time::Duration,
    /// Samples the history keeps (its span is this times the interval).
    pub history_samples: usize,
    /// Metrics of other front ends served with the broker's on `/metrics` (e.g. the Kafka
    /// listener's requests and connections).
    pub extra_metrics: Vec<std::sync::Arc<prometheus_client::registry::Registry>>,
}

impl HttpConfig {
    /// The defaults, with `max_request_bytes` changed.
    pub fn with_max_request_bytes(max_request_bytes: usize) -> HttpConfig {
        HttpConfig {
            max_request_bytes,
            ..HttpConfig::default()
        }
    }

    /// This config with `registry` also served on `/metrics`.
    #[must_use]
    pub fn with_extra_metrics(
        mut self,
        registry: std::sync::Arc<prometheus_client::registry::Registry>,
    ) -> HttpConfig {
        self.extra_metrics.push(registry);
        self
    }

    /// This config with the metrics history sampled every `interval` (at least 100 ms).
    #[must_use]
    pub fn with_history_interval(self, interval: std::time::Duration) -> HttpConfig {
        HttpConfig {
            history_interval: interval.max(std::time::Duration::from_millis(100)),
            ..self
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            history_interval: DEFAULT_HISTORY_INTERVAL,
            history_samples: DEFAULT_HISTORY_SAMPLES,
            extra_metrics: Vec::new(),
        }
    }
}

/// The application as a [`Router`], for serving on something else than a [`TcpListener`] or for
/// in-process tests.
pub fn router(broker: Broker, config: &HttpConfig) -> Router {
    crate::router::build(AppState::new(broker), config)
}

/// Serves the API on `listener` until `shutdown` completes, then stops accepting connections
/// and returns once the requests in flight have been answered.
///
/// The broker is not shut down here: the caller does that after this returns, so that no
/// request is cut off by a closing broker.
///
/// # Errors
/// An I/O error of the listener.
pub async fn serve<F>(
    listener: TcpListener,
    broker: Broker,
    config: HttpConfig,
    shutdown: F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let startup = crate::Startup::new(config);
    startup.open(broker);
    crate::serve_startup(listener, startup, shutdown).await
}
