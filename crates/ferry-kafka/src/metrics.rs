//! The Kafka listener's own numbers: requests by API and outcome, their latency, and
//! connections. Served on the HTTP server's `/metrics` beside the broker's.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use std::sync::Arc;
use std::time::Duration;

/// Labels of a request count: the API's name and what became of the request.
type RequestLabels = [(&'static str, &'static str); 2];
/// Labels of a request latency: the API's name.
type ApiLabels = [(&'static str, &'static str); 1];

/// Upper bounds of the request latency buckets, in seconds (Fetch long polls reach 30 s).
const REQUEST_BUCKETS_S: [f64; 15] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// What became of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Answered.
    Answered,
    /// Handled without an answer (Produce with `acks=0`).
    Unanswered,
    /// Refused: the connection was closed.
    Refused,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::Unanswered => "unanswered",
            Outcome::Refused => "refused",
        }
    }
}

/// The listener's metrics. Cheap to share; the registry holds the same series.
#[derive(Debug)]
pub struct KafkaMetrics {
    registry: Arc<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<ApiLabels, Histogram>,
    open_connections: Gauge,
    connections: Counter,
}

fn latency_histogram() -> Histogram {
    Histogram::new(REQUEST_BUCKETS_S)
}

impl Default for KafkaMetrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<ApiLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let open_connections = Gauge::default();
        let connections = Counter::default();
        registry.register(
            "ferry_kafka_requests",
            "Kafka protocol requests, by API and outcome (answered, unanswered for acks=0, \
             refused: the connection was closed).",
            requests.clone(),
        );
        registry.register_with_unit(
            "ferry_kafka_request_duration",
            "Time from a Kafka request's arrival to its answer, by API.",
            Unit::Seconds,
            latency.clone(),
        );
        registry.register(
            "ferry_kafka_open_connections",
            "Kafka client connections open now.",
            open_connections.clone(),
        );
        registry.register(
            "ferry_kafka_connections",
            "Kafka client connections accepted.",
            connections.clone(),
        );
        KafkaMetrics {
            registry: Arc::new(registry),
            requests,
            latency,
            open_connections,
            connections,
        }
    }
}

impl KafkaMetrics {
    /// The registry to serve (e.g. with `ferry_http::HttpConfig::with_extra_metrics`).
    pub fn registry(&self) -> Arc<Registry> {
        Arc::clone(&self.registry)
    }

    /// Counts one request of `api` (a name such as `Produce`; `unknown` when the frame did not
    /// say) and, if it was handled, its duration.
    pub(crate) fn request(&self, api: &'static str, outcome: Outcome, took: Duration) {
        self.requests
            .get_or_create(&[("api", api), ("outcome", outcome.label())])
            .inc();
        if outcome != Outcome::Refused {
            self.latency
                .get_or_create(&[("api", api)])
                .observe(took.as_secs_f64());
        }
    }

    /// A connection opened; the guard counts it closed when dropped.
    pub(crate) fn connection(self: &Arc<Self>) -> ConnectionGuard {
        self.connections.inc();
        self.open_connections.inc();
        ConnectionGuard(Arc::clone(self))
    }
}

/// Counts a connection as closed when dropped.
pub(crate) struct ConnectionGuard(Arc<KafkaMetrics>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.open_connections.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;

    #[test]
    fn requests_latency_and_connections_are_exposed_with_exact_values() {
        let metrics = Arc::new(KafkaMetrics::default());
        metrics.request("Produce", Outcome::Answered, Duration::from_millis(3));
        metrics.request("Produce", Outcome::Answered, Duration::from_millis(30));
        metrics.request("Produce", Outcome::Unanswered, Duration::from_millis(1));
        metrics.request("unknown", Outcome::Refused, Duration::ZERO);
        let open = metrics.connection();
        let _closed = metrics.connection();
        drop(open);
        let mut text = String::new();
        assert!(encode(&mut text, &metrics.registry()).is_ok());
        for line in [
            r#"ferry_kafka_requests_total{api="Produce",outcome="answered"} 2"#,
            r#"ferry_kafka_requests_total{api="Produce",outcome="unanswered"} 1"#,
            r#"ferry_kafka_requests_total{api="unknown",outcome="refused"} 1"#,
            r#"ferry_kafka_request_duration_seconds_count{api="Produce"} 3"#,
            r#"ferry_kafka_request_duration_seconds_bucket{le="0.005",api="Produce"} 2"#,
            "ferry_kafka_open_connections 1",
            "ferry_kafka_connections_total 2",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        assert!(!text.contains(r#"duration_seconds_count{api="unknown"}"#));
    }
}
