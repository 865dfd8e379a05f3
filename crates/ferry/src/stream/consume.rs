//! `consume` and `tail`: records read from partitions directly, or polled as a member of a
//! consumer group.

use crate::failure::Failure;
use crate::shutdown::Signals;
use crate::stream::args::{ConsumeArgs, TailArgs};
use crate::stream::format::{partition_list, record_json, record_line};
use ferry_api::{
    CommitOffset, CommitRequest, JoinRequest, OffsetReset, OffsetSpec, PollRequest, ReadQuery,
    ReadRecord, ReadResponse,
};
use ferry_client::Client;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// Most records asked for per read or poll.
const READ_MAX_RECORDS: u32 = 500;
/// Long poll of each read or poll while following; Ctrl-C interrupts it at once.
const FOLLOW_WAIT_MS: u64 = 1000;
/// How long leaving a group may take before the CLI exits anyway (the member's session then
/// times out on the server).
const LEAVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether to stop at the end of the records there are now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Stop once every partition is read to its end.
    UntilEnd,
    /// Keep waiting for new records until Ctrl-C.
    Follow,
}

/// How records are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    /// `partition:offset key value`.
    Lines,
    /// One JSON object per line.
    Json,
}

pub(super) async fn run(client: &Client, args: ConsumeArgs) -> Result<(), Failure> {
    let format = if args.json {
        Format::Json
    } else {
        Format::Lines
    };
    let mode = if args.follow {
        Mode::Follow
    } else {
        Mode::UntilEnd
    };
    let mut printer = Printer::new(format, args.max);
    match &args.group {
        Some(group) => consume_group(client, &args, group, mode, &mut printer).await,
        None => {
            let (stream, from) = (&args.name, args.from);
            consume_partitions(client, stream, &args.partitions, from, mode, &mut printer).await
        }
    }
}

pub(super) async fn tail(client: &Client, args: TailArgs) -> Result<(), Failure> {
    let format = if args.json {
        Format::Json
    } else {
        Format::Lines
    };
    let mut printer = Printer::new(format, None);
    let (stream, partitions) = (&args.name, &args.partitions);
    consume_partitions(
        client,
        stream,
        partitions,
        OffsetSpec::Latest,
        Mode::Follow,
        &mut printer,
    )
    .await
}

/// Prints records and counts them against `--max`.
struct Printer {
    format: Format,
    max: Option<u64>,
    printed: u64,
    /// stdout was closed (e.g. `| head`): nothing more can be printed.
    closed: bool,
}

impl Printer {
    fn new(format: Format, max: Option<u64>) -> Printer {
        Printer {
            format,
            max,
            printed: 0,
            closed: false,
        }
    }

    /// How many of `n` records may still be printed.
    fn room(&self, n: u64) -> u64 {
        match (self.closed, self.max) {
            (true, _) => 0,
            (false, Some(max)) => n.min(max.saturating_sub(self.printed)),
            (false, None) => n,
        }
    }

    /// Whether printing is over (`--max` reached or stdout closed).
    fn full(&self) -> bool {
        self.room(1) == 0
    }

    /// Prints one record, unless [`Printer::full`].
    ///
    /// # Errors
    /// `io` when stdout fails other than by being closed.
    fn print(&mut self, partition: u32, record: &ReadRecord) -> Result<(), Failure> {
        if self.full() {
            return Ok(());
        }
        let line = match self.format {
            Format::Lines => record_line(partition, record),
            Format::Json => record_json(partition, record),
        };
        match writeln!(std::io::stdout().lock(), "{line}") {
            Ok(()) => {
                self.printed += 1;
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            Err(e) => Err(Failure::new("io", format!("writing to stdout: {e}"))),
        }
    }
}

/// Reads `wanted` partitions (all when empty) from `from`, one task per partition.
async fn consume_partitions(
    client: &Client,
    stream: &str,
    wanted: &[u32],
    from: OffsetSpec,
    mode: Mode,
    printer: &mut Printer,
) -> Result<(), Failure> {
    let partitions: Vec<u32> = if wanted.is_empty() {
        let details = client.stream_info(stream).await?;
        details.partitions.iter().map(|p| p.partition).collect()
    } else {
        wanted.to_vec()
    };
    let mut signals = Signals::install()?;
    let (tx, mut rx) = mpsc::channel(partitions.len().saturating_mul(2).max(1));
    // Dropping the set (on every return) stops the readers.
    let mut readers = JoinSet::new();
    for partition in partitions {
        let reader = PartitionFeed {
            client: client.clone(),
            stream: stream.to_owned(),
            partition,
            offset: from,
            mode,
        };
        readers.spawn(reader.run(tx.clone()));
    }
    drop(tx);
    while !printer.full() {
        let batch = tokio::select! {
            batch = rx.recv() => batch,
            _ = signals.recv() => break,
        };
        let Some(batch) = batch else {
            break; // every partition is read to its end
        };
        let (partition, response) = batch?;
        if let Some(to) = response
            .skipped_to
            .filter(|&to| to <= response.start_offset)
        {
            eprintln!(
                "partition {partition}: records before offset {to} no longer exist; reading from {to}"
            );
        }
        for record in &response.records {
            printer.print(partition, record)?;
        }
    }
    Ok(())
}

/// A batch read from a partition, or why reading it stopped.
type PartitionBatch = Result<(u32, ReadResponse), Failure>;

/// Reads one partition in a loop (a read ahead, see [`ferry_client::PartitionReader`]),
/// handing each reply over.
struct PartitionFeed {
    client: Client,
    stream: String,
    partition: u32,
    offset: OffsetSpec,
    mode: Mode,
}

impl PartitionFeed {
    async fn run(self, tx: mpsc::Sender<PartitionBatch>) {
        let query = ReadQuery {
            offset: Some(self.offset),
            max_records: Some(READ_MAX_RECORDS),
            wait_ms: (self.mode == Mode::Follow).then_some(FOLLOW_WAIT_MS),
            ..ReadQuery::default()
        };
        let mut reader = self
            .client
            .partition_reader(&self.stream, self.partition, query);
        loop {
            let response = match reader.next().await {
                Ok(response) => response,
                Err(e) => {
                    let _ = tx.send(Err(Failure::from(e))).await;
                    return;
                }
            };
            let at_end = response.records.is_empty() || response.next_offset >= response.end_offset;
            if tx.send(Ok((self.partition, response))).await.is_err() {
                return;
            }
            if at_end && self.mode == Mode::UntilEnd {
                return;
            }
        }
    }
}

/// Joins `group`, polls and prints, commits after each batch, and leaves at the end.
async fn consume_group(
    client: &Client,
    args: &ConsumeArgs,
    group: &str,
    mode: Mode,
    printer: &mut Printer,
) -> Result<(), Failure> {
    let reset = match args.from {
        OffsetSpec::Earliest => OffsetReset::Earliest,
        OffsetSpec::Latest => OffsetReset::Latest,
        OffsetSpec::At(_) => {
            return Err(Failure::new(
                "invalid_argument",
                "with --group, --from takes earliest or latest (move a group to an offset with \
                 `ferry stream reset-offsets`)",
            ));
        }
    };
    let mut signals = Signals::install()?;
    let mut member = Member {
        client,
        stream: &args.name,
        group,
        reset,
        id: String::new(),
        generation: 0,
    };
    tokio::select! {
        joined = member.join() => joined?,
        _ = signals.recv() => return Ok(()),
    }
    let result = member.consume(mode, printer, &mut signals).await;
    member.leave().await;
    result
}

/// This process as a member of a group.
struct Member<'a> {
    client: &'a Client,
    stream: &'a str,
    group: &'a str,
    reset: OffsetReset,
    id: String,
    generation: u64,
}

impl Member<'_> {
    async fn join(&mut self) -> Result<(), Failure> {
        let request = JoinRequest {
            member_id: None,
            session_timeout_ms: None,
            auto_offset_reset: Some(self.reset),
        };
        let joined = self
            .client
            .join_group(self.stream, self.group, &request)
            .await?;
        eprintln!(
            "joined group {} as {} (generation {}, partitions {})",
            self.group,
            joined.member_id,
            joined.generation,
            partition_list(&joined.assignment)
        );
        self.id = joined.member_id;
        self.generation = joined.generation;
        Ok(())
    }

    /// Polls until the end (or for ever when following), printing and committing.
    async fn consume(
        &mut self,
        mode: Mode,
        printer: &mut Printer,
        signals: &mut Signals,
    ) -> Result<(), Failure> {
        while !printer.full() {
            let request = PollRequest {
                member_id: self.id.clone(),
                generation: self.generation,
                max_records: u32::try_from(printer.room(u64::from(READ_MAX_RECORDS))).ok(),
                max_bytes: None,
                wait_ms: Some(if mode == Mode::Follow {
                    FOLLOW_WAIT_MS
                } else {
                    0
                }),
            };
            let polled = tokio::select! {
                polled = self.client.poll_group(self.stream, self.group, &request) => polled,
                _ = signals.recv() => return Ok(()),
            };
            let poll = match polled {
                Ok(poll) => poll,
                Err(e) if e.code() == "unknown_member" => {
                    eprintln!(
                        "the group dropped this member ({}); joining again",
                        e.message()
                    );
                    self.join().await?;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            if poll.rebalanced {
                eprintln!(
                    "group {} rebalanced: generation {}, partitions {}",
                    self.group,
                    poll.generation,
                    partition_list(&poll.assignment)
                );
            }
            self.generation = poll.generation;
            if poll.records.is_empty() && !poll.rebalanced && mode == Mode::UntilEnd {
                return Ok(());
            }
            self.print_and_commit(&poll.records, printer).await?;
        }
        Ok(())
    }

    /// Prints what fits and commits what was printed.
    async fn print_and_commit(
        &mut self,
        records: &[ReadRecord],
        printer: &mut Printer,
    ) -> Result<(), Failure> {
        let mut next: BTreeMap<u32, u64> = BTreeMap::new();
        for record in records {
            let Some(partition) = record.partition else {
                return Err(Failure::new(
                    "invalid_reply",
                    format!("polled record at offset {} has no partition", record.offset),
                ));
            };
            let before = printer.printed;
            printer.print(partition, record)?;
            if printer.printed == before {
                break;
            }
            let offset = next.entry(partition).or_insert(0);
            *offset = (*offset).max(record.offset + 1);
        }
        if next.is_empty() {
            return Ok(());
        }
        let request = CommitRequest {
            member_id: Some(self.id.clone()),
            generation: Some(self.generation),
            offsets: commit_offsets(&next),
        };
        match self
            .client
            .commit_offsets(self.stream, self.group, &request)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.code(), "stale_generation" | "unknown_member") => {
                eprintln!("warning: not committed, these records may be delivered again: {e}");
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Leaves the group, so that its partitions move on at once; failures are only reported.
    async fn leave(&self) {
        let leave = self.client.leave_group(self.stream, self.group, &self.id);
        match tokio::time::timeout(LEAVE_TIMEOUT, leave).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) if e.code() == "unknown_member" => {}
            Ok(Err(e)) => eprintln!("warning: leaving group {}: {e}", self.group),
            Err(_) => eprintln!(
                "warning: leaving group {} took over {LEAVE_TIMEOUT:?}; its session will expire",
                self.group
            ),
        }
    }
}

/// The commit of the next offset to read per partition.
fn commit_offsets(next: &BTreeMap<u32, u64>) -> Vec<CommitOffset> {
    next.iter()
        .map(|(&partition, &offset)| CommitOffset {
            partition,
            offset,
            metadata: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_printer_stops_at_max() {
        let mut printer = Printer::new(Format::Lines, Some(3));
        assert_eq!(printer.room(10), 3);
        printer.printed = 2;
        assert_eq!((printer.room(10), printer.full()), (1, false));
        printer.printed = 3;
        assert_eq!((printer.room(10), printer.full()), (0, true));
        let unbounded = Printer::new(Format::Json, None);
        assert_eq!((unbounded.room(7), unbounded.full()), (7, false));
        let closed = Printer {
            closed: true,
            ..Printer::new(Format::Lines, None)
        };
        assert!(closed.full());
    }

    #[test]
    fn commits_name_the_next_offset_per_partition() {
        let next = BTreeMap::from([(0, 5), (2, 1)]);
        assert_eq!(
            commit_offsets(&next),
            vec![
                CommitOffset {
                    partition: 0,
                    offset: 5,
                    metadata: None
                },
                CommitOffset {
                    partition: 2,
                    offset: 1,
                    metadata: None
                }
            ]
        );
    }
}
