//! Serving while the broker recovers: the listener is bound and answers at once, so an
//! orchestrator sees the process live (`/health/live` 200) but not ready (`/health/ready` 503
//! `recovering`, every other route 503 `unavailable`) until [`Startup::open`] hands over the
//! recovered broker. From then on the full API is served.

use crate::HttpConfig;
use crate::error::ApiError;
use crate::metrics::{CountingListener, Observer};
use crate::state::AppState;
use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt as _;
use ferry_api::Health;
use ferry_broker::{Broker, Error, ErrorKind};
use std::convert::Infallible;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tower::ServiceExt as _;

/// A server's startup: empty while the broker recovers, then holding the full application.
/// Cheap to clone.
#[derive(Clone)]
pub struct Startup {
    inner: Arc<Inner>,
}

struct Inner {
    config: HttpConfig,
    observer: Arc<Observer>,
    app: OnceLock<(AppState, Router)>,
    sampler: Mutex<Option<JoinHandle<()>>>,
}

impl Startup {
    /// A startup for a server with `config`; nothing but health is served until
    /// [`Startup::open`].
    pub fn new(config: HttpConfig) -> Startup {
        let observer = Observer::new(config.history_interval, config.history_samples)
            .with_extra(config.extra_metrics.clone());
        Startup {
            inner: Arc::new(Inner {
                config,
                observer: Arc::new(observer),
                app: OnceLock::new(),
                sampler: Mutex::new(None),
            }),
        }
    }

    /// Hands over the recovered broker: from now on every route is served and readiness is
    /// 200. Starts sampling the metrics history. Only the first call has an effect.
    pub fn open(&self, broker: Broker) {
        let inner = &self.inner;
        let state = AppState::with_observer(broker.clone(), Arc::clone(&inner.observer));
        let router = crate::router::build(state.clone(), &inner.config);
        if inner.app.set((state, router)).is_ok() {
            let sampler = inner.observer.spawn_sampler(broker);
            *inner.sampler.lock().unwrap_or_else(PoisonError::into_inner) = Some(sampler);
            tracing::info!("recovery finished; serving the full API");
        }
    }

    /// The broker, once [`Startup::open`] handed it over.
    pub fn broker(&self) -> Option<Broker> {
        self.inner.app.get().map(|(state, _)| state.broker.clone())
    }

    /// Whether [`Startup::open`] was called.
    pub fn is_open(&self) -> bool {
        self.inner.app.get().is_some()
    }

    async fn dispatch(self, request: Request) -> Response {
        match self.inner.app.get() {
            Some((_, router)) => match router.clone().oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            },
            None => recovering(&request),
        }
    }

    fn stop(&self) {
        if let Some((state, _)) = self.inner.app.get() {
            state.set_draining();
        }
        if let Some(sampler) = self
            .inner
            .sampler
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            sampler.abort();
        }
    }
}

/// The answer to anything but liveness before the broker is open.
fn recovering(request: &Request) -> Response {
    let health = |status: &str| {
        axum::Json(Health {
            status: status.to_owned(),
        })
    };
    match request.uri().path() {
        "/health/live" => (StatusCode::OK, health("live")).into_response(),
        "/health/ready" => (StatusCode::SERVICE_UNAVAILABLE, health("recovering")).into_response(),
        _ => ApiError::from(Error::new(
            ErrorKind::Unavailable,
            "the broker is still recovering its queues",
        ))
        .into_response(),
    }
}

/// Serves `startup` on `listener` until `shutdown` completes, then stops accepting connections
/// and returns once the requests in flight have been answered. Before [`Startup::open`] only
/// health is answered (see the module docs).
///
/// # Errors
/// An I/O error of the listener.
pub async fn serve_startup<F>(
    listener: TcpListener,
    startup: Startup,
    shutdown: F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let for_requests = startup.clone();
    let app = Router::new().fallback_service(tower::service_fn(move |request: Request| {
        let startup = for_requests.clone();
        async move { Ok::<_, Infallible>(startup.dispatch(request).await) }
    }));
    // Without TCP_NODELAY a response written in two parts waits for the client's delayed ACK
    // (up to 40 ms on Linux): that was the tail of every request's latency.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    let listener = CountingListener::new(listener, Arc::clone(&startup.inner.observer.http));
    let for_shutdown = startup.clone();
    let draining = async move {
        shutdown.await;
        for_shutdown.stop();
        tracing::info!("http: shutting down, finishing requests in flight");
    };
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(draining)
        .await;
    startup.stop();
    result
}
