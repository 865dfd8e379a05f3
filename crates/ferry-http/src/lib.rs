//! Ferry's native HTTP/JSON API server: the `/v1/queues` and `/v1/streams` routes (with
//! server-sent events), `/v1/openapi.json`, `/health/*`, `/metrics` (Prometheus),
//! `/v1/metrics/history` and the web dashboard at `/`, on axum.
//!
//! Every handler is a thin adapter: decode the request (refusing bad input with a 4xx JSON error
//! before anything changes), call [`ferry_broker::Broker`], encode the reply. Broker errors
//! become HTTP replies only through the broker's own table (`ErrorKind::code` and
//! `ErrorKind::http_status`). This crate holds no queue semantics, no storage and no config
//! file handling: the `ferry` binary does the latter.
//!
//! ```no_run
//! # async fn run(broker: ferry_broker::Broker) -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:7480").await?;
//! let shutdown = async { let _ = tokio::signal::ctrl_c().await; };
//! ferry_http::serve(listener, broker, ferry_http::HttpConfig::default(), shutdown).await
//! # }
//! ```

mod dashboard;
mod error;
mod extract;
mod health;
mod metrics;
mod native;
mod openapi;
mod reply;
mod router;
mod server;
mod sqs;
mod starting;
mod state;

pub use error::{CODE_METHOD_NOT_ALLOWED, CODE_NOT_FOUND, CODE_REQUEST_TOO_LARGE};
pub use openapi::openapi_document;
pub use server::{
    DEFAULT_HISTORY_INTERVAL, DEFAULT_HISTORY_SAMPLES, DEFAULT_MAX_REQUEST_BYTES, HttpConfig,
    router, serve,
};
pub use sqs::{ACCOUNT_ID as SQS_ACCOUNT_ID, DEFAULT_REGION as SQS_DEFAULT_REGION};
pub use starting::{Startup, serve_startup};
