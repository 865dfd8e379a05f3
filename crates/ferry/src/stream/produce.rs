//! `produce`: records from the arguments or from stdin, appended in batches.

use crate::failure::Failure;
use crate::shutdown::Signals;
use crate::stream::args::ProduceArgs;
use crate::stream::format::{RecordTemplate, out, parse_headers};
use ferry_api::{AppendRecord, AppendRequest, AppendedRecord};
use ferry_client::Client;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::io::{BufRead as _, IsTerminal as _};
use std::time::Duration;
use tokio::sync::mpsc;

/// How long a partial batch of stdin lines waits for more before it is sent, so that a slow
/// producer upstream (`tail -f log | ferry stream produce …`) sees its records go out.
const STDIN_LINGER: Duration = Duration::from_millis(50);

/// Where the values come from.
enum Source {
    /// The VALUE arguments.
    Args(std::vec::IntoIter<Vec<u8>>),
    /// Lines of stdin, read by a thread of their own.
    Stdin(mpsc::Receiver<std::io::Result<Vec<u8>>>),
}

/// What is printed on stdout.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Report {
    /// `partition:offset` per record.
    Lines,
    /// `{"partition", "offset"}` per record.
    Json,
    /// Counts and offset ranges per partition at the end.
    Summary,
}

/// The progress of one `produce`.
struct Producer<'a> {
    client: &'a Client,
    stream: &'a str,
    report: Report,
    /// The offset the next batch must start at, with `--expected-offset`.
    expected_offset: Option<u64>,
    produced: u64,
    /// First and last offset written per partition.
    ranges: BTreeMap<u32, (u64, u64)>,
    progress: ProgressBar,
}

pub(super) async fn run(client: &Client, args: ProduceArgs) -> Result<(), Failure> {
    let template = RecordTemplate {
        key: args.key.clone(),
        key_separator: args.key_separator.clone(),
        partition: args.partition,
        headers: parse_headers(&args.headers)?,
    };
    let (mut source, report) = if args.tombstone || !args.values.is_empty() {
        let values: Vec<Vec<u8>> = args.values.iter().map(|v| v.clone().into_bytes()).collect();
        let report = if args.json {
            Report::Json
        } else {
            Report::Lines
        };
        (Source::Args(values.into_iter()), report)
    } else {
        let report = if args.json {
            Report::Json
        } else {
            Report::Summary
        };
        (Source::stdin(usize::from(args.batch)), report)
    };
    let mut producer = Producer {
        client,
        stream: &args.name,
        report,
        expected_offset: args.expected_offset,
        produced: 0,
        ranges: BTreeMap::new(),
        progress: progress_bar(&args, report),
    };
    let mut signals = Signals::install()?;
    if args.tombstone {
        producer
            .send(vec![template.tombstone()], &mut signals)
            .await?;
        return producer.finish();
    }
    let batch = usize::from(args.batch);
    loop {
        let values = tokio::select! {
            values = source.next_batch(batch) => values?,
            signal = signals.recv() => return Err(producer.interrupted(signal, "")),
        };
        if values.is_empty() {
            break;
        }
        let records: Result<Vec<AppendRecord>, Failure> =
            values.iter().map(|v| template.record(v)).collect();
        let records = records.map_err(|e| producer.failed(e, ""))?;
        producer.send(records, &mut signals).await?;
    }
    producer.finish()
}

impl Producer<'_> {
    /// Appends one batch and reports where its records went.
    async fn send(
        &mut self,
        records: Vec<AppendRecord>,
        signals: &mut Signals,
    ) -> Result<(), Failure> {
        let count = records.len() as u64;
        let request = AppendRequest {
            records,
            expected_offset: self.expected_offset,
        };
        let placed = tokio::select! {
            placed = self.client.append(self.stream, &request) => placed,
            signal = signals.recv() => {
                let in_flight = format!("; the {count} records in flight may or may not have been appended");
                return Err(self.interrupted(signal, &in_flight));
            }
        };
        let placed = placed.map_err(|e| {
            let note = match e.next_offset() {
                Some(next) => format!("next offset: {next}; "),
                None => String::new(),
            };
            self.failed(Failure::from(e), &note)
        })?;
        self.expected_offset = self.expected_offset.map(|o| o + count);
        self.on_placed(&placed);
        Ok(())
    }

    fn on_placed(&mut self, placed: &[AppendedRecord]) {
        for p in placed {
            self.ranges
                .entry(p.partition)
                .and_modify(|(first, last)| {
                    *first = (*first).min(p.offset);
                    *last = (*last).max(p.offset);
                })
                .or_insert((p.offset, p.offset));
            let line = match self.report {
                Report::Lines => format!("{}:{}\n", p.partition, p.offset),
                Report::Json => match serde_json::to_string(p) {
                    Ok(json) => format!("{json}\n"),
                    Err(e) => format!("{{\"error\":\"{e}\"}}\n"),
                },
                Report::Summary => continue,
            };
            self.progress.suspend(|| out(&line));
        }
        self.produced += placed.len() as u64;
        self.progress.inc(placed.len() as u64);
    }

    fn finish(self) -> Result<(), Failure> {
        self.progress.finish_and_clear();
        if self.produced == 0 {
            return Err(Failure::new(
                "invalid_argument",
                "no VALUE given and stdin is empty",
            ));
        }
        if self.report == Report::Summary {
            out(&format!("{}\n", self.summary()));
        }
        Ok(())
    }

    /// `produced 3 records to s: partition 0 offsets 4-5, partition 1 offset 9`.
    fn summary(&self) -> String {
        let ranges: Vec<String> = self
            .ranges
            .iter()
            .map(|(partition, (first, last))| {
                if first == last {
                    format!("partition {partition} offset {first}")
                } else {
                    format!("partition {partition} offsets {first}-{last}")
                }
            })
            .collect();
        format!(
            "produced {} record{} to {}: {}",
            self.produced,
            if self.produced == 1 { "" } else { "s" },
            self.stream,
            ranges.join(", ")
        )
    }

    /// A failure with `note` and how far the run got.
    fn failed(&self, failure: Failure, note: &str) -> Failure {
        self.progress.abandon();
        Failure::new(
            &failure.code,
            format!(
                "{} ({note}{} records were produced before this)",
                failure.message, self.produced
            ),
        )
    }

    fn interrupted(&self, signal: &str, in_flight: &str) -> Failure {
        self.progress.abandon();
        Failure::new(
            "interrupted",
            format!(
                "stopped by {signal} after producing {} records{in_flight}",
                self.produced
            ),
        )
    }
}

impl Source {
    /// Lines of stdin, read on a thread so that waiting for input never blocks the runtime
    /// (and Ctrl-C stays responsive).
    fn stdin(batch: usize) -> Source {
        let (tx, rx) = mpsc::channel(batch.saturating_mul(2).max(1));
        std::thread::spawn(move || {
            let mut stdin = std::io::stdin().lock();
            loop {
                let mut line = Vec::new();
                let line = match stdin.read_until(b'\n', &mut line) {
                    Ok(0) => return,
                    Ok(_) => Ok(strip_newline(line)),
                    Err(e) => Err(e),
                };
                let stop = line.is_err();
                if tx.blocking_send(line).is_err() || stop {
                    return;
                }
            }
        });
        Source::Stdin(rx)
    }

    /// Up to `batch` values; fewer when stdin pauses for [`STDIN_LINGER`]; none at the end.
    async fn next_batch(&mut self, batch: usize) -> Result<Vec<Vec<u8>>, Failure> {
        match self {
            Source::Args(values) => Ok(values.by_ref().take(batch).collect()),
            Source::Stdin(lines) => {
                let read = |line: Option<std::io::Result<Vec<u8>>>| {
                    line.transpose()
                        .map_err(|e| Failure::new("io", format!("reading stdin: {e}")))
                };
                let Some(first) = read(lines.recv().await)? else {
                    return Ok(Vec::new());
                };
                let mut values = vec![first];
                while values.len() < batch {
                    match tokio::time::timeout(STDIN_LINGER, lines.recv()).await {
                        Ok(line) => match read(line)? {
                            Some(value) => values.push(value),
                            None => break,
                        },
                        Err(_) => break,
                    }
                }
                Ok(values)
            }
        }
    }
}

/// A line without its `\n` or `\r\n`.
fn strip_newline(mut line: Vec<u8>) -> Vec<u8> {
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    }
    line
}

/// A bar for many arguments, a counter for stdin, on a terminal only.
fn progress_bar(args: &ProduceArgs, report: Report) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let (bar, template) = if report == Report::Summary || args.values.is_empty() {
        (
            ProgressBar::new_spinner(),
            "{spinner} {pos} records, {per_sec}",
        )
    } else if args.values.len() > usize::from(args.batch) {
        (
            ProgressBar::new(args.values.len() as u64),
            "{bar:40} {pos}/{len} records, {per_sec} ({eta} left)",
        )
    } else {
        return ProgressBar::hidden();
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newlines_are_stripped_once() {
        assert_eq!(strip_newline(b"a\r\n".to_vec()), b"a");
        assert_eq!(strip_newline(b"a\n".to_vec()), b"a");
        assert_eq!(strip_newline(b"a".to_vec()), b"a");
        assert_eq!(strip_newline(b"a\r".to_vec()), b"a\r");
        assert_eq!(strip_newline(b"\n".to_vec()), b"");
    }

    #[tokio::test]
    async fn argument_values_come_in_batches() {
        let values: Vec<Vec<u8>> = (0..5).map(|i| vec![i]).collect();
        let mut source = Source::Args(values.into_iter());
        let mut sizes = Vec::new();
        loop {
            let batch = source.next_batch(2).await.unwrap_or_default();
            if batch.is_empty() {
                break;
            }
            sizes.push(batch.len());
        }
        assert_eq!(sizes, vec![2, 2, 1]);
    }

    #[tokio::test]
    async fn stdin_batches_end_at_the_batch_size_or_the_end_of_input() {
        let (tx, rx) = mpsc::channel(8);
        for i in 0..3u8 {
            let _ = tx.send(Ok(vec![i])).await;
        }
        drop(tx);
        let mut source = Source::Stdin(rx);
        assert_eq!(
            source.next_batch(2).await.ok(),
            Some(vec![vec![0], vec![1]])
        );
        assert_eq!(source.next_batch(2).await.ok(), Some(vec![vec![2]]));
        assert_eq!(source.next_batch(2).await.ok(), Some(vec![]));
    }

    #[test]
    fn the_summary_names_each_partitions_offsets() {
        let client = Client::new("http://127.0.0.1:9").unwrap_or_else(|e| panic!("{e}"));
        let mut producer = Producer {
            client: &client,
            stream: "s",
            report: Report::Summary,
            expected_offset: None,
            produced: 0,
            ranges: BTreeMap::new(),
            progress: ProgressBar::hidden(),
        };
        let placed = [(0, 4), (1, 9), (0, 5)]
            .map(|(partition, offset)| AppendedRecord { partition, offset });
        producer.on_placed(&placed);
        assert_eq!(
            producer.summary(),
            "produced 3 records to s: partition 0 offsets 4-5, partition 1 offset 9"
        );
    }
}
