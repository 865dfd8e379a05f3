//! The load generator behind `ferry bench`: it drives a *running* Ferry server through the
//! native HTTP/JSON API (via [`ferry_client`]) and reports what a user of that API would see.
//! The queue bench can also go through the SQS endpoint ([`Protocol::Sqs`]), as the AWS SDKs
//! do.
//!
//! `ferry bench queue` ([`QueueBench`], [`run_queue`]): producers send numbered, timestamped
//! messages to a fresh queue, in batches, as fast as possible or on a fixed timetable
//! (`--rate`, with latency counted from the *scheduled* time so that a stall is not hidden by
//! coordinated omission); consumers long-poll, ack each batch in one call and check every
//! `(producer, seq)` off a ledger. The [`QueueReport`] gives sent, received and acked
//! messages per second, publish and end-to-end latency percentiles (HDR histograms), and the
//! verification: **lost** (acknowledged by the broker, never received) and **duplicated**
//! (received more than once) messages.
//!
//! `ferry bench stream` ([`StreamBench`], [`run_stream`]): producers append numbered text
//! records to a fresh stream in pipelined batches, then one consumer reads every partition
//! back from offset 0. The [`StreamReport`] gives appended and read records/s and MB/s, append
//! latency percentiles, and a [`Verification`] that every record came back exactly once, at
//! the offset its append was given.
//!
//! `ferry bench resequence` ([`ResequenceBench`], [`run_resequence`]): one producer sends
//! numbered messages dealt over `--keys` order keys to a fresh resequencing queue; workers
//! receive them in batches and complete each batch in one call; a follower reads the results
//! from the queue's output stream. The [`ResequenceReport`] gives the throughput (first send
//! to last result readable), the complete call's latency, send-to-result and
//! complete-to-result latency, and a [`ResultCheck`] that every result arrived exactly once,
//! in its key's send order. `--plain` runs the same workers acking a plain queue: the
//! baseline.
//!
//! It is *not* a server, and it starts none: point it at one with `--url`. It does not choose
//! the server's durability either; `--fsync` is a server setting, and the figures hold for
//! whatever the server runs with. The body layout, the definitions of every figure and measured
//! results are in `docs/benchmarks.md`.
//!
//! ```no_run
//! # async fn run() -> Result<(), ferry_bench::BenchError> {
//! use ferry_bench::{QueueBench, run_queue};
//!
//! // The "single-message publish p99 at 1,000 msgs/s" preset.
//! let options = QueueBench { rate: 1000, batch: 1, messages: 10_000, ..QueueBench::default() };
//! let report = run_queue(&options).await?;
//! report.print_table();
//! assert!(report.is_clean(), "lost or duplicated messages");
//! # Ok(()) }
//! ```

mod consumer;
mod error;
mod header;
mod ledger;
mod options;
mod producer;
mod progress;
mod report;
mod resequence;
mod run;
mod schedule;
mod shared;
mod stream;
mod wire;

pub use error::BenchError;
pub use options::{QueueBench, defaults};
pub use report::{LatencySummary, QueueReport, Workload};
pub use resequence::{
    DeliveryCheck, ResequenceBench, ResequenceMode, ResequenceReport, ResequenceWorkload,
    ResultCheck, defaults as resequence_defaults, run_resequence,
};
pub use run::run_queue;
pub use stream::{
    PhaseFigures, StreamBench, StreamReport, StreamWorkload, Verification,
    defaults as stream_defaults, run_stream,
};
pub use wire::{Protocol, SQS_MAX_BATCH};
