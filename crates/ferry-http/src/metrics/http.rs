//! The server's own numbers: requests by route, method and status, their latency, and open
//! connections. Recorded by a middleware and a listener wrapper; no per-request allocation
//! beyond the label values.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::serve::Listener;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Labels of a request count: the route template (never the concrete path), method, status.
type RequestLabels = [(&'static str, String); 3];
/// Labels of a request latency: route and method.
type RouteLabels = [(&'static str, String); 2];

/// Upper bounds of the request latency buckets, in seconds.
const REQUEST_BUCKETS_S: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0,
];

/// The HTTP server's metrics, registered in their own registry.
#[derive(Debug)]
pub(crate) struct HttpMetrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    open_connections: Gauge,
    connections: Counter,
}

fn latency_histogram() -> Histogram {
    Histogram::new(REQUEST_BUCKETS_S)
}

impl Default for HttpMetrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let open_connections = Gauge::default();
        let connections = Counter::default();
        registry.register(
            "ferry_http_requests",
            "HTTP requests answered, by route template, method and status.",
            requests.clone(),
        );
        registry.register_with_unit(
            "ferry_http_request_duration",
            "Time to answer an HTTP request (long polls included), by route and method.",
            Unit::Seconds,
            latency.clone(),
        );
        registry.register(
            "ferry_http_open_connections",
            "HTTP connections open now.",
            open_connections.clone(),
        );
        registry.register(
            "ferry_http_connections",
            "HTTP connections accepted.",
            connections.clone(),
        );
        HttpMetrics {
            registry,
            requests,
            latency,
            open_connections,
            connections,
        }
    }
}

impl HttpMetrics {
    /// The registry to encode on a scrape.
    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }

    pub(crate) fn record(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&[
                ("route", route.to_owned()),
                ("method", method.to_owned()),
                ("status", status.to_string()),
            ])
            .inc();
        self.latency
            .get_or_create(&[("route", route.to_owned()), ("method", method.to_owned())])
            .observe(seconds);
    }
}

/// Route layer: carries the matched route template out to [`count_request`] on the response.
pub(crate) async fn tag_route(request: Request, next: Next) -> Response {
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let mut response = next.run(request).await;
    if let Some(matched) = matched {
        response.extensions_mut().insert(matched);
    }
    response
}

/// Outer layer: counts every request by route template (`unmatched` for 404s), method and
/// status, and times it.
pub(crate) async fn count_request(
    State(metrics): State<Arc<HttpMetrics>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let response = next.run(request).await;
    let route = response
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    metrics.record(
        route,
        method_label(&method),
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// The `method` label: a standard method by name, anything else (clients may send any token)
/// as `other`, so that requests cannot grow the label set without bound.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// A listener that counts the connections it hands out and how many are still open.
pub(crate) struct CountingListener<L> {
    inner: L,
    metrics: Arc<HttpMetrics>,
}

impl<L> CountingListener<L> {
    pub(crate) fn new(inner: L, metrics: Arc<HttpMetrics>) -> CountingListener<L> {
        CountingListener { inner, metrics }
    }
}

impl<L> Listener for CountingListener<L>
where
    L: Listener,
    L::Io: Unpin,
{
    type Io = Counted<L::Io>;
    type Addr = L::Addr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = self.inner.accept().await;
        self.metrics.connections.inc();
        self.metrics.open_connections.inc();
        let io = Counted {
            inner: io,
            metrics: Arc::clone(&self.metrics),
        };
        (io, addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A connection that lowers the open-connections gauge when dropped.
pub(crate) struct Counted<T> {
    inner: T,
    metrics: Arc<HttpMetrics>,
}

impl<T> Drop for Counted<T> {
    fn drop(&mut self) {
        self.metrics.open_connections.dec();
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Counted<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Counted<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Method;

    #[test]
    fn made_up_methods_share_one_label() {
        assert_eq!(method_label(&Method::POST), "POST");
        assert_eq!(method_label(&Method::OPTIONS), "OPTIONS");
        for token in ["MKCOL", "X0", "GETX"] {
            let method = Method::from_bytes(token.as_bytes()).expect("a method token");
            assert_eq!(method_label(&method), "other", "{token}");
        }
    }
}
