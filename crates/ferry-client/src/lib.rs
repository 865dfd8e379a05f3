//! An async Rust client of Ferry's native HTTP/JSON API, built on the wire types of
//! [`ferry_api`]. The `ferry` CLI, the bench and the integration tests use it.
//!
//! It is a thin typed wrapper over plain HTTP: no retries, no connection to the broker's
//! internals, no TLS. Failures are [`Error`]s that carry the server's code, message and status.
//!
//! ```no_run
//! # async fn run() -> Result<(), ferry_client::Error> {
//! use ferry_client::{Client, api::{QueueConfig, ReceiveRequest, SendEntry}};
//!
//! let client = Client::new("http://127.0.0.1:7480")?;
//! client.put_queue("jobs", &QueueConfig::default()).await?;
//! client.send("jobs", vec![SendEntry::text("hello")]).await?;
//! for message in client.receive("jobs", &ReceiveRequest { wait_ms: Some(1000), ..Default::default() }).await? {
//!     client.ack("jobs", vec![message.receipt]).await?;
//! }
//! # Ok(()) }
//! ```
//!
//! Streams work the same way:
//!
//! ```no_run
//! # async fn run() -> Result<(), ferry_client::Error> {
//! use ferry_client::{Client, api::{AppendRecord, AppendRequest, OffsetSpec, ReadQuery, StreamConfig}};
//!
//! let client = Client::new("http://127.0.0.1:7480")?;
//! client.put_stream("events", &StreamConfig::default()).await?;
//! let records = vec![AppendRecord::text("hello").with_key("user-1")];
//! let placed = client.append("events", &AppendRequest { records, expected_offset: None }).await?;
//! let query = ReadQuery { offset: Some(OffsetSpec::Earliest), ..Default::default() };
//! let read = client.read("events", placed[0].partition, &query).await?;
//! # Ok(()) }
//! ```

mod client;
mod error;
mod reader;
mod sse;
mod streams;

pub use client::{Client, PutOutcome};
pub use error::Error;
/// The wire types, re-exported so callers need not depend on `ferry-api` themselves.
pub use ferry_api as api;
pub use reader::PartitionReader;
pub use sse::RecordEvents;
pub use streams::StreamPutOutcome;
