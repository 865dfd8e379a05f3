//! The Kafka wire protocol in front of Ferry's streams: a Kafka topic *is* a Ferry stream
//! (same partitions, offsets, keys, values, headers and timestamps), so what a Kafka client
//! produces the native API reads, and the other way round.
//!
//! This crate is a thin adapter. [`serve`] accepts connections; `conn` frames requests and
//! answers them in order; `shape` checks a request's structure before the `kafka-protocol`
//! codec decodes it (the codec sizes arrays from the wire before reading them, so a crafted
//! count could otherwise make it allocate without bound); `handlers` turn each API into
//! [`ferry_broker::Broker`] calls. Semantics (batches, offsets, idempotent producers, group
//! membership, committed offsets) live in the broker.

mod conn;
mod errors;
mod handlers;
mod metrics;
mod request;
mod shape;
mod topic_config;
pub mod versions;

pub use metrics::KafkaMetrics;

use ferry_broker::Broker;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How the Kafka listener behaves.
#[derive(Clone, Debug)]
pub struct KafkaConfig {
    /// The host Metadata tells clients to connect to.
    pub advertised_host: String,
    /// The port Metadata tells clients to connect to.
    pub advertised_port: u16,
    /// Largest request frame accepted; a larger one closes the connection (Kafka's
    /// `socket.request.max.bytes`).
    pub max_request_bytes: usize,
    /// Whether a Metadata request for an unknown topic creates it (when the client allows
    /// it), as Kafka's `auto.create.topics.enable`.
    pub auto_create_topics: bool,
    /// Partitions of a topic created without a count (Kafka's `num.partitions`).
    pub default_partitions: u32,
    /// Requests of one connection handled at once; responses still go out in order.
    pub max_in_flight: usize,
    /// Where requests and connections are counted.
    pub metrics: Arc<KafkaMetrics>,
}

impl KafkaConfig {
    /// The defaults, advertising `addr`.
    pub fn new(addr: SocketAddr) -> KafkaConfig {
        KafkaConfig {
            advertised_host: addr.ip().to_string(),
            advertised_port: addr.port(),
            max_request_bytes: 100 * 1024 * 1024,
            auto_create_topics: true,
            default_partitions: 1,
            max_in_flight: 16,
            metrics: Arc::new(KafkaMetrics::default()),
        }
    }
}

/// Parses one request frame (without its 4-byte size prefix) exactly as a connection does,
/// and says why it would be refused. For fuzzing the decoder (`fuzz/`); never panics.
///
/// # Errors
/// Why the frame is not a request Ferry serves.
pub fn parse_request(frame: &[u8]) -> Result<(), String> {
    request::parse(bytes::Bytes::copy_from_slice(frame))
        .map(|_| ())
        .map_err(|refused| format!("{refused:?}"))
}

/// What every connection shares.
pub(crate) struct Context {
    pub(crate) broker: Broker,
    pub(crate) config: KafkaConfig,
    /// Becomes `true` when the server shuts down: long polls end at once.
    pub(crate) stopping: watch::Receiver<bool>,
}

/// Serves Kafka clients on `listener` until `stopping` becomes `true`.
///
/// # Errors
/// Only if accepting fails for good; a failed connection is logged and dropped.
pub async fn serve(
    listener: TcpListener,
    broker: Broker,
    config: KafkaConfig,
    mut stopping: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let context = Arc::new(Context {
        broker,
        config,
        stopping: stopping.clone(),
    });
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, peer)) => {
                    let _ = socket.set_nodelay(true);
                    tokio::spawn(conn::run(socket, peer, Arc::clone(&context)));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "kafka: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            () = stopped(&mut stopping) => return Ok(()),
        }
    }
}

/// Completes once `stopping` is `true` (or its sender is gone).
pub(crate) async fn stopped(stopping: &mut watch::Receiver<bool>) {
    let _ = stopping.wait_for(|s| *s).await;
}
