//! The stream workload (W4): append numbered records in batches, then read them all back from
//! the start with a fresh reader, checking each came back once.

use std::future::Future;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;

use crate::error::{CompareError, Result};
use crate::ledger::{Ledger, Verification};
use crate::payload::{self, Header};

/// One system's handle for the stream workload.
pub trait StreamSystem: Send + Sync + 'static {
    /// An appending connection; clones share it.
    type Appender: Appender;
    /// A reader positioned at the start of the stream.
    type Reader: Reader;

    /// Creates the (durable) stream `stream`, empty.
    fn create(&self, stream: &str) -> impl Future<Output = Result<()>> + Send;
    /// Connects an appender.
    fn appender(&self, stream: &str) -> impl Future<Output = Result<Self::Appender>> + Send;
    /// Opens a reader at the first record, taking up to `batch` records at a time.
    fn reader(&self, stream: &str, batch: u32)
    -> impl Future<Output = Result<Self::Reader>> + Send;
    /// Removes `stream` (best effort).
    fn delete(&self, stream: &str) -> impl Future<Output = Result<()>> + Send;
}

/// Appends batches; returns once the system confirmed the whole batch.
pub trait Appender: Clone + Send + Sync + 'static {
    /// Appends `bodies` in order.
    fn append(&self, bodies: Vec<Vec<u8>>) -> impl Future<Output = Result<()>> + Send;
}

/// Reads a stream forward.
pub trait Reader: Send + 'static {
    /// The next records, waiting at most `wait` for the first; empty when none came.
    fn next(&mut self, wait: Duration) -> impl Future<Output = Result<Vec<Vec<u8>>>> + Send;
}

/// The shape of a stream run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamSpec {
    /// Records in all.
    pub records: u64,
    /// Value bytes.
    pub size: usize,
    /// Records per append.
    pub batch: usize,
    /// Appends in flight.
    pub inflight: usize,
    /// Records per read.
    pub read_batch: u32,
    /// Give up reading after this long without a record.
    pub idle_timeout_ms: u64,
}

/// What a stream run measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamOutcome {
    /// Records appended (confirmed) per second.
    pub appended_per_s: f64,
    /// Records read per second, from the first read to the last record.
    pub read_per_s: f64,
    /// Lost, duplicated, foreign.
    pub verification: Verification,
}

/// Runs the stream workload against `system` on a fresh stream named `stream`.
///
/// # Errors
/// A failed create, connect, append or read ends the run.
pub async fn run_stream<S: StreamSystem>(
    system: &S,
    stream: &str,
    spec: &StreamSpec,
) -> Result<StreamOutcome> {
    if spec.batch == 0 || spec.inflight == 0 {
        return Err(CompareError::Run(
            "batch and inflight must be positive".into(),
        ));
    }
    system.create(stream).await?;
    let appender = system.appender(stream).await?;
    let start = Instant::now();
    let mut appends: JoinSet<Result<()>> = JoinSet::new();
    let mut seq = 0;
    while seq < spec.records {
        while appends.len() >= spec.inflight {
            join_one(&mut appends).await?;
        }
        let n = (spec.records - seq).min(spec.batch as u64);
        let bodies = (seq..seq + n)
            .map(|s| {
                let header = Header {
                    producer: 0,
                    seq: s,
                    sent_ns: 0,
                };
                payload::encode(header, spec.size)
            })
            .collect();
        let appender = appender.clone();
        appends.spawn(async move { appender.append(bodies).await });
        seq += n;
    }
    while !appends.is_empty() {
        join_one(&mut appends).await?;
    }
    let append_secs = start.elapsed().as_secs_f64();

    let mut ledger = Ledger::new(&[spec.records]);
    let mut reader = system.reader(stream, spec.read_batch).await?;
    let read_start = Instant::now();
    let mut last_record = read_start;
    let idle = Duration::from_millis(spec.idle_timeout_ms);
    while ledger.unique() < spec.records {
        let records = reader.next(Duration::from_millis(200)).await?;
        if records.is_empty() {
            if last_record.elapsed() > idle {
                break;
            }
            continue;
        }
        for record in &records {
            ledger.record(payload::decode(record));
        }
        last_record = Instant::now();
    }
    let read_secs = last_record.duration_since(read_start).as_secs_f64();
    let verification = ledger.verify();
    drop(reader);
    if let Err(error) = system.delete(stream).await {
        eprintln!("warning: could not delete {stream}: {error}");
    }
    let rate = |n: u64, secs: f64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
    Ok(StreamOutcome {
        appended_per_s: rate(spec.records, append_secs),
        read_per_s: rate(verification.sent - verification.lost, read_secs),
        verification,
    })
}

async fn join_one(calls: &mut JoinSet<Result<()>>) -> Result<()> {
    match calls.join_next().await {
        Some(joined) => joined.map_err(|e| CompareError::Run(format!("append task: {e}")))?,
        None => Ok(()),
    }
}
