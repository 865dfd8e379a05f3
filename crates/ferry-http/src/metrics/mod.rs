//! Observability routes: `GET /metrics` (Prometheus) and `GET /v1/metrics/history` (the last
//! minutes of every queue and stream, for the dashboard and `ferry top`), and the sampler that
//! feeds the history.

mod encode;
mod http;

pub(crate) use http::{CountingListener, HttpMetrics, count_request, tag_route};

use crate::error::ApiError;
use crate::router::RouteDef;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use ferry_api::time::format_rfc3339;
use ferry_api::{MetricsHistory, QueueHistory, StreamHistory};
use ferry_broker::Broker;
use ferry_broker::metrics::{Detail, History, MetricsSnapshot};
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The OpenMetrics text content type (Prometheus scrapes it natively).
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Every observability route of the API (the dashboard's pages are not API routes).
pub(crate) fn routes() -> Vec<RouteDef> {
    vec![
        RouteDef::get("/metrics", prometheus),
        RouteDef::get("/v1/metrics/history", history),
    ]
}

/// What the observability routes share: the server's own metrics and the sampled history.
#[derive(Debug)]
pub(crate) struct Observer {
    /// Requests and connections.
    pub(crate) http: Arc<HttpMetrics>,
    /// Other front ends' metrics, served after the HTTP server's.
    extra: Vec<Arc<Registry>>,
    history: Mutex<History>,
    interval: Duration,
    capacity: usize,
}

impl Observer {
    /// An observer sampling every `interval`, keeping `capacity` samples.
    pub(crate) fn new(interval: Duration, capacity: usize) -> Observer {
        Observer {
            http: Arc::new(HttpMetrics::default()),
            extra: Vec::new(),
            history: Mutex::new(History::new(capacity)),
            interval,
            capacity,
        }
    }

    /// This observer also serving `extra` registries on `/metrics`.
    pub(crate) fn with_extra(mut self, extra: Vec<Arc<Registry>>) -> Observer {
        self.extra = extra;
        self
    }

    fn record(&self, snapshot: MetricsSnapshot) {
        self.history
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .record(snapshot);
    }

    /// Samples `broker` every interval (the first sample at once) until the task is aborted.
    pub(crate) fn spawn_sampler(self: &Arc<Self>, broker: Broker) -> tokio::task::JoinHandle<()> {
        let observer = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(observer.interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                observer.record(broker.metrics(Detail::Counts).await);
            }
        })
    }

    fn series(&self) -> MetricsHistory {
        let series = self
            .history
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .series();
        MetricsHistory {
            interval_ms: u64::try_from(self.interval.as_millis()).unwrap_or(u64::MAX),
            capacity: self.capacity,
            times: series.times.into_iter().map(format_rfc3339).collect(),
            queues: series
                .queues
                .into_iter()
                .map(|q| QueueHistory {
                    name: q.name,
                    visible: q.visible,
                    delayed: q.delayed,
                    in_flight: q.in_flight,
                    oldest_age_ms: q.oldest_age_ms,
                    enqueued_per_s: q.enqueued_per_s,
                    delivered_per_s: q.delivered_per_s,
                    acked_per_s: q.acked_per_s,
                    dead_lettered_per_s: q.dead_lettered_per_s,
                    first_delivery_p50_ms: q.first_delivery_p50_ms,
                    first_delivery_p99_ms: q.first_delivery_p99_ms,
                    ack_p50_ms: q.ack_p50_ms,
                    ack_p99_ms: q.ack_p99_ms,
                })
                .collect(),
            streams: series
                .streams
                .into_iter()
                .map(|s| StreamHistory {
                    name: s.name,
                    end_offsets: s.end_offsets,
                    bytes: s.bytes,
                    appended_per_s: s.appended_per_s,
                    lag_records: s.lag_records,
                })
                .collect(),
        }
    }
}

/// Renders a snapshot, the HTTP server's metrics and other front ends' registries as one
/// OpenMetrics text exposition.
pub(crate) fn render_with(
    snapshot: MetricsSnapshot,
    http: &Registry,
    extra: &[Arc<Registry>],
) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::default();
    registry.register(
        "ferry_build",
        "The running Ferry's version (value 1).",
        Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
    );
    registry.register_collector(Box::new(encode::SnapshotCollector { snapshot }));
    let mut out = String::with_capacity(16 * 1024);
    encode_registry(&mut out, &registry)?;
    encode_registry(&mut out, http)?;
    for registry in extra {
        encode_registry(&mut out, registry)?;
    }
    encode_eof(&mut out)?;
    Ok(out)
}

/// `GET /metrics`.
async fn prometheus(State(state): State<AppState>) -> Result<Response, ApiError> {
    let snapshot = state.broker.metrics(Detail::Full).await;
    let observer = &state.observer;
    let text = render_with(snapshot, observer.http.registry(), &observer.extra).map_err(|e| {
        ApiError::from(ferry_broker::Error::new(
            ferry_broker::ErrorKind::Internal,
            format!("cannot encode metrics: {e}"),
        ))
    })?;
    Ok(([(header::CONTENT_TYPE, OPENMETRICS)], text).into_response())
}

/// `GET /v1/metrics/history`.
async fn history(State(state): State<AppState>) -> Json<MetricsHistory> {
    Json(state.observer.series())
}

#[cfg(test)]
mod tests;
