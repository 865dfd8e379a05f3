//! `ferry bench stream`: the append and read throughput of an event stream through the native
//! HTTP API, every record verified. The workload is described on [`run_stream`].
//!
//! Phase 1 is in `produce`, phase 2 in `consume`; `placement` keeps where the append replies
//! put each record, `verify` checks what the reads return against it, and `value` is the
//! layout of the record values.

mod consume;
mod options;
mod placement;
mod produce;
mod report;
mod value;
mod verify;

pub use options::{StreamBench, defaults};
pub use report::{PhaseFigures, StreamReport, StreamWorkload, Verification};

use crate::error::BenchError;
use crate::report::LatencySummary;
use crate::run::interrupt;
use crate::shared::random_name;
use ferry_client::api::{ErrorResponse, ReadQuery, StreamConfig};
use ferry_client::{Client, Error};
use options::Settings;
use placement::Layout;
use reqwest::Url;
use std::io::IsTerminal as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Room for a record's framing in the stream's `max_record_bytes`, above the value itself.
const RECORD_FRAMING_BYTES: u32 = 1024;
/// How long the bench waits for a TCP connection to the server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `ferry bench stream` against the server at `options.url` and returns the report.
///
/// The workload (defaults in [`stream_defaults`](crate::stream_defaults)):
///
/// 1. **Setup.** Create a fresh stream `bench-<8 hex digits>` (or `--stream NAME`, which must
///    not exist) with `--partitions` partitions.
/// 2. **Append** (phase 1). `--producers` tasks append `--records` records in batches of
///    `--batch` (`POST /v1/streams/{s}/records`), each producer keeping up to `--in-flight`
///    requests under way. Records have no key, so the server spreads the batches over the
///    partitions. Every value is `--record-bytes` of ASCII text: `FRS1`, the record's number
///    in 16 hex digits, then `.` padding. The server answers an append once it is durable
///    under its own fsync policy, which the bench neither sets nor sees. Reported: appended
///    records/s and MB/s over the phase, and per-request latency percentiles.
/// 3. **Read** (phase 2). One consumer reads every partition from offset 0 to where the appends
///    ended (`GET /v1/streams/{s}/partitions/{p}/records`, `max_records` up to
///    `--read-max-records`, `max_bytes` = `--read-max-bytes`), keeping `--read-in-flight`
///    requests under way, each for its own range of offsets. Reported: read records/s and
///    MB/s.
/// 4. **Verify.** The append replies say which offset each record got; every record read must
///    come at an offset above the one before it and carry the number of the record placed
///    there, every placed offset must be read, and no partition may hold more
///    ([`Verification`]).
/// 5. **Cleanup.** Delete the stream, unless `--keep`.
///
/// Like `ferry bench queue`, it starts no server: point it at one with `--url`. MB are 10⁶
/// bytes of record value; JSON and HTTP overhead is not counted (the report gives the read
/// replies' size in [`StreamReport::read_reply_bytes`]). The report is returned, not printed
/// (see [`StreamReport::print_table`] and [`StreamReport::print_json`]); records that were
/// lost, repeated or out of order are reported, not returned as errors: see
/// [`StreamReport::is_clean`] (`ferry bench stream` exits non-zero then).
///
/// ```no_run
/// # async fn run() -> Result<(), ferry_bench::BenchError> {
/// use ferry_bench::{StreamBench, run_stream};
///
/// let options = StreamBench { records: 100_000, partitions: 2, ..StreamBench::default() };
/// let report = run_stream(&options).await?;
/// report.print_table();
/// assert!(report.is_clean(), "records lost, repeated or out of order");
/// # Ok(()) }
/// ```
///
/// # Errors
/// [`BenchError::InvalidOption`] before anything is sent; [`BenchError::Url`] for a bad URL;
/// [`BenchError::StreamExists`] if `--stream` names an existing stream;
/// [`BenchError::StreamClient`] at the first failed call to the server (the run stops there,
/// and the stream is still deleted).
pub async fn run_stream(options: &StreamBench) -> Result<StreamReport, BenchError> {
    let settings = Settings::check(options)?;
    let client = Client::new(&options.url).map_err(BenchError::Url)?;
    let stream = options.stream.clone().unwrap_or_else(random_name);
    let target = Arc::new(Target::new(client, stream)?);
    target.create(options).await?;
    let outcome = drive(&target, options, settings).await;
    let deleted = !options.keep && target.delete().await;
    let mut report = outcome?;
    report.stream_deleted = deleted;
    Ok(report)
}

/// The stream under test and the ways to reach it.
#[derive(Debug)]
pub(crate) struct Target {
    /// The typed client: setup, appends, cleanup.
    client: Client,
    /// A plain HTTP client for reads, whose replies are parsed into a lean view.
    http: reqwest::Client,
    /// The stream's name.
    stream: String,
}

impl Target {
    fn new(client: Client, stream: String) -> Result<Target, BenchError> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| BenchError::Url(Error::Transport(e)))?;
        Ok(Target {
            client,
            http,
            stream,
        })
    }

    /// A client error of `action` on this stream.
    fn error(&self, action: &'static str, source: Error) -> BenchError {
        BenchError::StreamClient {
            action,
            stream: self.stream.clone(),
            source,
        }
    }

    /// Creates the stream, refusing one that exists.
    async fn create(&self, options: &StreamBench) -> Result<(), BenchError> {
        let exists = || BenchError::StreamExists {
            stream: self.stream.clone(),
        };
        match self.client.stream_info(&self.stream).await {
            Ok(_) => return Err(exists()),
            Err(e) if e.code() == "stream_not_found" => {}
            Err(e) => return Err(self.error("look up", e)),
        }
        let defaults = StreamConfig::default();
        let config = StreamConfig {
            partitions: options.partitions,
            max_record_bytes: defaults
                .max_record_bytes
                .max(options.record_bytes.saturating_add(RECORD_FRAMING_BYTES)),
            ..defaults
        };
        let outcome = self
            .client
            .put_stream(&self.stream, &config)
            .await
            .map_err(|e| self.error("create", e))?;
        if outcome.created {
            Ok(())
        } else {
            Err(exists())
        }
    }

    /// Deletes the stream; a failure is only worth a warning, since the report is still valid.
    async fn delete(&self) -> bool {
        match self.client.delete_stream(&self.stream).await {
            Ok(()) => true,
            Err(e) => {
                eprintln!(
                    "warning: could not delete bench stream {:?}: {e}",
                    self.stream
                );
                false
            }
        }
    }

    /// `GET /v1/streams/{s}/partitions/{p}/records`, the reply's bytes unparsed.
    ///
    /// `ferry_client::Client::read` parses every record into a `ReadRecord`, timestamp
    /// included, which costs the bench more CPU than the server spends on the read; hence
    /// this plain request, whose error replies are mapped as the client maps them.
    async fn read(&self, partition: u32, query: &ReadQuery) -> Result<impl AsRef<[u8]>, Error> {
        let mut url: Url = self.client.base_url().clone();
        let partition = partition.to_string();
        url.path_segments_mut()
            .map_err(|()| Error::InvalidUrl {
                url: self.client.base_url().to_string(),
                message: "not a base URL".to_owned(),
            })?
            .pop_if_empty()
            .extend([
                "v1",
                "streams",
                &self.stream,
                "partitions",
                &partition,
                "records",
            ]);
        let response = self.http.get(url).query(query).send().await?;
        let status = response.status();
        let body = response.bytes().await?;
        if status.is_success() {
            return Ok(body);
        }
        Err(match serde_json::from_slice::<ErrorResponse>(&body) {
            Ok(reply) => Error::Api {
                status: status.as_u16(),
                code: reply.error.code,
                message: reply.error.message,
                next_offset: reply.error.next_offset,
            },
            Err(_) => Error::InvalidReply {
                status: status.as_u16(),
                message: format!("not an error reply: {}", String::from_utf8_lossy(&body)),
            },
        })
    }

    /// Records the partitions hold past the last offset the appends placed, from each
    /// partition's extent.
    async fn unexpected(&self, layout: &Layout) -> Result<u64, BenchError> {
        let mut unexpected = 0;
        for (partition, placed) in (0u32..).zip(&layout.partitions) {
            let info = self
                .client
                .partition_info(&self.stream, partition)
                .await
                .map_err(|e| self.error("look up partition", e))?;
            unexpected += info.end_offset.saturating_sub(placed.end);
        }
        Ok(unexpected)
    }
}

/// Runs both phases and the final check.
async fn drive(
    target: &Arc<Target>,
    options: &StreamBench,
    settings: Settings,
) -> Result<StreamReport, BenchError> {
    let stop = Arc::new(AtomicBool::new(false));
    let on_ctrl_c = tokio::spawn({
        let stop = Arc::clone(&stop);
        async move {
            interrupt().await;
            stop.store(true, Ordering::Relaxed);
        }
    });
    let say = |line: &str| {
        if !options.json && std::io::stderr().is_terminal() {
            eprintln!("{line}");
        }
    };
    say(&format!(
        "appending {} records to stream {} …",
        settings.records, target.stream
    ));
    let started = Instant::now();
    let appended = produce::append_all(target, settings, &stop).await;
    let append_elapsed = started.elapsed();
    let appended = appended?;
    let layout = Arc::new(appended.placements.into_layout(settings.partitions));
    say(&format!("reading {} records back …", layout.placed()));
    let started = Instant::now();
    let read = consume::read_all(target, &layout, settings, &stop).await;
    let read_elapsed = started.elapsed();
    let read = read?;
    let unexpected = target.unexpected(&layout).await?;
    on_ctrl_c.abort();
    let record_bytes = settings.record_bytes as u64;
    Ok(StreamReport {
        url: options.url.clone(),
        stream: target.stream.clone(),
        stream_deleted: false,
        workload: workload(options),
        interrupted: stop.load(Ordering::Relaxed),
        append: PhaseFigures::new(
            appended.records,
            appended.records * record_bytes,
            appended.requests,
            append_elapsed,
        ),
        append_latency: LatencySummary::from_micros(&appended.latency),
        read: PhaseFigures::new(
            read.tally.read,
            read.tally.value_bytes,
            read.requests,
            read_elapsed,
        ),
        read_reply_bytes: read.reply_bytes,
        verification: verify::verdict(appended.records, &layout, &read.tally, unexpected),
    })
}

fn workload(o: &StreamBench) -> StreamWorkload {
    StreamWorkload {
        records: o.records,
        record_bytes: o.record_bytes,
        batch: o.batch,
        producers: o.producers,
        in_flight: o.in_flight,
        partitions: o.partitions,
        read_max_records: o.read_max_records,
        read_max_bytes: o.read_max_bytes,
        read_in_flight: o.read_in_flight,
    }
}
