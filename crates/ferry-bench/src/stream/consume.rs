//! Phase 2: one consumer reads every partition from offset 0 to where the appends ended, and
//! checks every record it gets.
//!
//! The offsets of each partition are cut into *windows* of `--read-max-records`; the consumer
//! keeps `--read-in-flight` windows under way, so the server prepares the next reply while the
//! bench checks one. A window is read from its first offset with `max_records` set to its
//! size, and read on from the reply's `next_offset` if `--read-max-bytes` cut it short.
//!
//! Replies are parsed into a lean, borrowing view ([`LeanRead`]): offsets and values only,
//! the values borrowed from the reply's bytes, timestamps and headers skipped unparsed.

use super::Target;
use super::options::Settings;
use super::placement::Layout;
use super::value::ValueFormat;
use super::verify::{Checker, Tally};
use crate::error::BenchError;
use ferry_client::api::{OffsetSpec, ReadQuery};
use serde::Deserialize;
use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::task::JoinSet;

/// What the reads found, together.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Read {
    /// The check of every record read.
    pub(crate) tally: Tally,
    /// Read requests made.
    pub(crate) requests: u64,
    /// JSON bytes of their replies.
    pub(crate) reply_bytes: u64,
}

impl Read {
    fn add(&mut self, other: &Read) {
        self.tally.add(&other.tally);
        self.requests += other.requests;
        self.reply_bytes += other.reply_bytes;
    }
}

/// A range of offsets of one partition, read by one task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) partition: u32,
    /// The first offset.
    pub(crate) start: u64,
    /// One past the last.
    pub(crate) end: u64,
}

/// The windows that cover every partition of `layout` from 0 to its end, in partition and
/// offset order, each at most `size` offsets long.
pub(crate) fn windows(layout: &Layout, size: u32) -> impl Iterator<Item = Window> + '_ {
    let size = u64::from(size.max(1));
    (0u32..)
        .zip(&layout.partitions)
        .flat_map(move |(partition, p)| {
            let end = p.end;
            (0..end.div_ceil(size)).map(move |i| Window {
                partition,
                start: i * size,
                end: ((i + 1) * size).min(end),
            })
        })
}

/// A read reply, as far as the bench needs it.
#[derive(Debug, Deserialize)]
struct LeanRead<'a> {
    #[serde(borrow)]
    records: Vec<LeanRecord<'a>>,
    next_offset: u64,
}

/// A record of a read reply: its offset and its text value, borrowed when it has no escapes
/// (the bench's values never do). A value that came as `value_base64`, or none, is empty.
#[derive(Debug, Deserialize)]
struct LeanRecord<'a> {
    offset: u64,
    #[serde(borrow, default)]
    value: Cow<'a, str>,
}

/// Reads every window of `layout`, up to `read_in_flight` at once, until done, `stop` is set
/// or a read fails.
///
/// # Errors
/// The first failed read ([`BenchError::StreamClient`]).
pub(crate) async fn read_all(
    target: &Arc<Target>,
    layout: &Arc<Layout>,
    settings: Settings,
    stop: &AtomicBool,
) -> Result<Read, BenchError> {
    let mut total = Read::default();
    let mut reads: JoinSet<Result<Read, BenchError>> = JoinSet::new();
    for window in windows(layout, settings.read_max_records) {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        while reads.len() >= settings.read_in_flight {
            if let Some(done) = reads.join_next().await {
                total.add(&joined(done)?);
            }
        }
        reads.spawn(read_window(
            Arc::clone(target),
            Arc::clone(layout),
            window,
            settings,
        ));
    }
    while let Some(done) = reads.join_next().await {
        total.add(&joined(done)?);
    }
    Ok(total)
}

fn joined(
    done: Result<Result<Read, BenchError>, tokio::task::JoinError>,
) -> Result<Read, BenchError> {
    done.map_err(|e| BenchError::Internal(format!("a read task ended abnormally: {e}")))?
}

/// Reads one window and checks its records.
async fn read_window(
    target: Arc<Target>,
    layout: Arc<Layout>,
    window: Window,
    settings: Settings,
) -> Result<Read, BenchError> {
    let Some(partition) = usize::try_from(window.partition)
        .ok()
        .and_then(|p| layout.partitions.get(p))
    else {
        return Err(BenchError::Internal(format!(
            "window of partition {} outside the layout",
            window.partition
        )));
    };
    let format = ValueFormat::new(settings.record_bytes);
    let mut checker = Checker::new(partition, window.start, &format);
    let mut read = Read::default();
    let mut offset = window.start;
    while offset < window.end {
        let max_records = u32::try_from(window.end - offset)
            .unwrap_or(u32::MAX)
            .min(settings.read_max_records);
        let query = ReadQuery {
            offset: Some(OffsetSpec::At(offset)),
            max_records: Some(max_records),
            max_bytes: Some(settings.read_max_bytes),
            ..ReadQuery::default()
        };
        let body = target
            .read(window.partition, &query)
            .await
            .map_err(|e| target.error("read", e))?;
        read.requests += 1;
        let body = body.as_ref();
        read.reply_bytes += body.len() as u64;
        let reply: LeanRead<'_> = serde_json::from_slice(body).map_err(|e| {
            let source = ferry_client::Error::InvalidReply {
                status: 200,
                message: e.to_string(),
            };
            target.error("read", source)
        })?;
        for record in &reply.records {
            checker.check(record.offset, Some(&record.value));
        }
        if reply.next_offset <= offset {
            // No progress: the partition ends early. What is left of the window is lost.
            break;
        }
        offset = reply.next_offset;
    }
    read.tally = checker.tally;
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::super::placement::Placements;
    use super::*;
    use ferry_client::api::AppendedRecord;

    fn layout(ends: &[u64]) -> Layout {
        let mut placements = Placements::default();
        let mut first = 0;
        for (partition, &end) in (0u32..).zip(ends) {
            let placed: Vec<_> = (0..end)
                .map(|offset| AppendedRecord { partition, offset })
                .collect();
            placements.book(first, &placed);
            first += end;
        }
        placements.into_layout(u32::try_from(ends.len()).unwrap_or(0))
    }

    #[test]
    fn windows_tile_every_partition_in_order() {
        let got: Vec<_> = windows(&layout(&[25, 0, 10]), 10)
            .map(|w| (w.partition, w.start, w.end))
            .collect();
        assert_eq!(got, vec![(0, 0, 10), (0, 10, 20), (0, 20, 25), (2, 0, 10)]);
        assert_eq!(windows(&layout(&[3]), 0).count(), 3, "a size of 0 is 1");
    }

    #[test]
    fn the_lean_view_borrows_values_and_skips_the_rest() {
        let body = br#"{"records":[
            {"offset":7,"value":"FRS1","headers":[{"name":"h","value":"v"}],"timestamp":"2026-01-01T00:00:00.000Z"},
            {"offset":8,"value_base64":"AAE=","headers":[],"timestamp":"2026-01-01T00:00:00.000Z"},
            {"offset":9,"value":"a\"b","headers":[],"timestamp":"2026-01-01T00:00:00.000Z"}
        ],"next_offset":10,"start_offset":0,"end_offset":10}"#;
        let reply: LeanRead<'_> = serde_json::from_slice(body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(reply.next_offset, 10);
        let records: Vec<_> = reply
            .records
            .iter()
            .map(|r| (r.offset, r.value.as_ref()))
            .collect();
        assert_eq!(records, vec![(7, "FRS1"), (8, ""), (9, "a\"b")]);
        assert!(matches!(reply.records[0].value, Cow::Borrowed(_)));
    }
}
