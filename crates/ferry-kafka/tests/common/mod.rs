//! An in-process Ferry with its Kafka listener on a free loopback port, and the raw client of
//! [`client`].
//!
//! The server runs on a runtime of its own whose threads are named [`SERVER_THREAD`], so a
//! panic in any of its tasks (which tokio would otherwise swallow, closing only the
//! connection) is counted by [`server_panics`] and a test can assert there was none.

#![allow(dead_code, unreachable_pub)]

pub mod client;

pub use client::*;

use ferry_broker::{Broker, BrokerConfig};
use ferry_kafka::KafkaConfig;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The name of every thread the test servers run on.
pub const SERVER_THREAD: &str = "ferry-kafka-test-server";

static PANICS: AtomicUsize = AtomicUsize::new(0);

/// Panics on server threads since the test binary started.
pub fn server_panics() -> usize {
    PANICS.load(Ordering::SeqCst)
}

fn watch_panics() {
    static HOOK: OnceLock<()> = OnceLock::new();
    HOOK.get_or_init(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name() == Some(SERVER_THREAD) {
                PANICS.fetch_add(1, Ordering::SeqCst);
            }
            previous(info);
        }));
    });
}

/// A running broker and Kafka listener; stopped (and its data removed) on drop.
pub struct TestServer {
    /// Where the Kafka listener is.
    pub addr: SocketAddr,
    /// The broker behind it.
    pub broker: Broker,
    stop: watch::Sender<bool>,
    runtime: Option<tokio::runtime::Runtime>,
    _dir: tempfile::TempDir,
}

/// A server with the default Kafka config.
pub async fn start() -> TestServer {
    start_with(|_| {}).await
}

/// A server whose Kafka config `configure` adjusts (after [`KafkaConfig::new`]).
pub async fn start_with(configure: impl FnOnce(&mut KafkaConfig) + Send + 'static) -> TestServer {
    watch_panics();
    let dir = ok(tempfile::tempdir(), "tempdir");
    let data_dir = dir.path().to_owned();
    let runtime = ok(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(SERVER_THREAD)
            .enable_all()
            .build(),
        "server runtime",
    );
    let (stop, stopping) = watch::channel(false);
    let started = runtime.spawn(async move {
        let broker = ok(
            Broker::open(BrokerConfig {
                data_dir,
                ..BrokerConfig::default()
            })
            .await,
            "open broker",
        );
        let listener = ok(TcpListener::bind("127.0.0.1:0").await, "bind");
        let addr = ok(listener.local_addr(), "local addr");
        let mut config = KafkaConfig::new(addr);
        configure(&mut config);
        tokio::spawn(ferry_kafka::serve(
            listener,
            broker.clone(),
            config,
            stopping,
        ));
        (addr, broker)
    });
    let (addr, broker) = ok(started.await, "server start");
    TestServer {
        addr,
        broker,
        stop,
        runtime: Some(runtime),
        _dir: dir,
    }
}

impl TestServer {
    /// A new connection to the listener.
    pub async fn conn(&self) -> Conn {
        Conn::connect(self.addr).await
    }

    /// Tells the listener to stop, as a server shutdown does (the broker stays open).
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }

    /// Asserts the server still answers a fresh connection's ApiVersions, and no server
    /// thread has panicked.
    pub async fn assert_alive(&self) {
        let mut conn = self.conn().await;
        let response = conn
            .call(0, &kafka_protocol::messages::ApiVersionsRequest::default())
            .await;
        assert_eq!(response.error_code, 0, "ApiVersions on a fresh connection");
        assert!(!response.api_keys.is_empty());
        assert_eq!(server_panics(), 0, "a server thread panicked");
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
