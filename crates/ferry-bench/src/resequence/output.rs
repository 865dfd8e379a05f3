//! The follower: long-polls the output stream from offset 0 and checks every result as it
//! becomes readable; and the [`Checker`], which says whether each result arrived exactly once,
//! in its key's send order, under its key, from the message it claims.
//!
//! A result is the message's body echoed, so its payload says which key and which number
//! within the key it belongs to and when it was sent. Out of order means: read after the
//! result of a *later* message of the same key (a missing earlier result is lost, not out of
//! order). Whether `ferry-source-id` names the id the broker gave that message is decided at
//! the end, because a result can be read before its send's reply has been booked.

use super::Keys;
use super::report::ResultCheck;
use super::work::COMPLETING_AT_ATTRIBUTE;
use crate::error::BenchError;
use crate::header::Header;
use crate::shared::{Shared, record_latency};
use ferry_client::api::{MessageId, OffsetSpec, ReadQuery, ReadRecord, decode_data};
use hdrhistogram::Histogram;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The header a released result carries the id of the message it completes in (the broker's
/// `ferry_core::queue::SOURCE_ID_ATTRIBUTE`).
const SOURCE_ID_HEADER: &str = "ferry-source-id";
/// Most records per read.
const READ_MAX_RECORDS: u32 = 1000;
/// How long a read waits for the next result.
const READ_WAIT_MS: u64 = 200;

/// What the follower found.
#[derive(Debug)]
pub(crate) struct Followed {
    /// The check of every result read.
    pub(crate) checker: Checker,
    /// Per first result, from its message's send to the read that returned it, microseconds.
    pub(crate) visible: Histogram<u64>,
    /// Per first result, from the start of the complete call that carried it to the read that
    /// returned it: the resequencer's own delay.
    pub(crate) release: Histogram<u64>,
    /// When the last first result was read, since the origin.
    pub(crate) last_found_at: Duration,
}

/// Follows partition 0 of `stream` until the run stops it, then reads on to the end once more
/// (without waiting) so that a late repeat is seen too; `found` tracks the distinct results
/// read so far. A failed read stops the whole run (through [`Shared::fail`]).
pub(crate) async fn follow(
    shared: Arc<Shared>,
    stream: String,
    checker: Checker,
    found: Arc<AtomicU64>,
    histogram: Histogram<u64>,
) -> Followed {
    let mut followed = Followed {
        checker,
        visible: histogram.clone(),
        release: histogram,
        last_found_at: Duration::ZERO,
    };
    let mut stop = shared.stop_receiving.subscribe();
    let mut offset = 0;
    loop {
        let stopping = *stop.borrow_and_update();
        if stopping && shared.has_failed() {
            break;
        }
        let query = ReadQuery {
            offset: Some(OffsetSpec::At(offset)),
            max_records: Some(READ_MAX_RECORDS),
            wait_ms: (!stopping).then_some(READ_WAIT_MS),
            ..ReadQuery::default()
        };
        let read = shared.client.read(&stream, 0, &query);
        let read = if stopping {
            read.await
        } else {
            tokio::select! {
                _ = stop.changed() => continue,
                read = read => read,
            }
        };
        let reply = match read {
            Ok(reply) => reply,
            Err(source) => {
                let stream = stream.clone();
                shared.fail(BenchError::StreamClient {
                    action: "read",
                    stream,
                    source,
                });
                break;
            }
        };
        let read_at = shared.now();
        for record in &reply.records {
            followed.on_record(record, read_at);
        }
        found.store(followed.checker.found(), Ordering::Relaxed);
        offset = offset.max(reply.next_offset);
        if stopping && (reply.records.is_empty() || offset >= reply.end_offset) {
            break;
        }
    }
    followed
}

impl Followed {
    fn on_record(&mut self, record: &ReadRecord, read_at: Duration) {
        let Some(first) = self.checker.check(record) else {
            return;
        };
        record_latency(&mut self.visible, read_at.saturating_sub(first.sent_at));
        if let Some(completing_at) = first.completing_at {
            record_latency(&mut self.release, read_at.saturating_sub(completing_at));
        }
        self.last_found_at = read_at;
    }
}

/// What a message's first result says about its timing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FirstResult {
    /// When its message was sent, since the origin.
    pub(crate) sent_at: Duration,
    /// When the complete call that carried it started, since the origin (if it says).
    pub(crate) completing_at: Option<Duration>,
}

/// Checks results as they are read, in the output's order.
#[derive(Debug)]
pub(crate) struct Checker {
    keys: Keys,
    /// Messages in the run: no result may claim a number at or above it.
    messages: u64,
    /// The length every result must have (the body's).
    size_bytes: usize,
    /// Per message number, once its first result was read: the source id it carried.
    results: Vec<Option<Option<MessageId>>>,
    /// Per key, the highest number within the key whose result was read so far.
    highest: Vec<Option<u64>>,
    /// The counts so far (`lost` is only known at the end).
    tally: ResultCheck,
}

impl Checker {
    /// A checker of a run of `messages` messages of `size_bytes` over `keys`.
    pub(crate) fn new(keys: Keys, messages: u64, size_bytes: usize) -> Checker {
        Checker {
            keys,
            messages,
            size_bytes,
            results: Vec::new(),
            highest: vec![None; keys.count()],
            tally: ResultCheck::default(),
        }
    }

    /// Distinct messages whose result was read.
    pub(crate) fn found(&self) -> u64 {
        self.tally.found
    }

    /// Checks the next result read; returns its timing if it is its message's first.
    pub(crate) fn check(&mut self, record: &ReadRecord) -> Option<FirstResult> {
        self.tally.read += 1;
        let Some((header, number)) = self.payload(record) else {
            self.tally.malformed += 1;
            return None;
        };
        let index = usize::try_from(number).ok()?;
        if self.results.len() <= index {
            self.results.resize(index + 1, None);
        }
        let slot = self.results.get_mut(index)?;
        if slot.is_some() {
            self.tally.duplicated += 1;
            return None;
        }
        *slot = Some(header_value(record, SOURCE_ID_HEADER).and_then(|s| MessageId::parse(&s)));
        self.tally.found += 1;
        let key = record.key.as_deref().and_then(Keys::index_of);
        if key != Some(header.producer) {
            self.tally.mismatched += 1;
        }
        let highest = usize::try_from(header.producer)
            .ok()
            .and_then(|k| self.highest.get_mut(k))?;
        if highest.is_some_and(|h| h > header.seq) {
            self.tally.out_of_order += 1;
        }
        *highest = Some(highest.map_or(header.seq, |h| h.max(header.seq)));
        let completing_at = header_value(record, COMPLETING_AT_ATTRIBUTE)
            .and_then(|nanos| nanos.parse().ok())
            .map(Duration::from_nanos);
        Some(FirstResult {
            sent_at: header.sent_at,
            completing_at,
        })
    }

    /// The header and message number of a result of this run; `None` for anything else.
    fn payload(&self, record: &ReadRecord) -> Option<(Header, u64)> {
        let value = record.decode_value().ok()??;
        if value.len() != self.size_bytes {
            return None;
        }
        let header = Header::decode(&value).ok()?;
        let number = self.keys.number(header.producer, header.seq)?;
        (number < self.messages).then_some((header, number))
    }

    /// The verdict, given the id the broker gave each acknowledged message (`ids[n]` for
    /// message `n`): acknowledged messages with no result are lost, and a result whose
    /// `ferry-source-id` is not its message's id (or whose message was never acknowledged)
    /// is mismatched.
    pub(crate) fn verdict(&self, ids: &[MessageId]) -> ResultCheck {
        let mut check = self.tally;
        check.acknowledged = ids.len() as u64;
        for (n, id) in ids.iter().enumerate() {
            match self.results.get(n) {
                None | Some(None) => check.lost += 1,
                Some(Some(source)) if *source != Some(*id) => check.mismatched += 1,
                Some(Some(_)) => {}
            }
        }
        let unacknowledged = self.results.iter().skip(ids.len()).flatten().count();
        check.mismatched += unacknowledged as u64;
        check
    }
}

/// The value of `record`'s first header called `name`, as text.
fn header_value(record: &ReadRecord, name: &str) -> Option<String> {
    let header = record.headers.iter().find(|h| h.name == name)?;
    let bytes = decode_data("header", header.value.clone(), header.value_base64.clone()).ok()??;
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_client::api::{ReadEncoding, RecordHeader};

    const SIZE: usize = 32;

    fn id(n: u64) -> MessageId {
        MessageId::new(7, n + 1)
    }

    /// The result of message `n` of a run over `keys`, as the output would hold it.
    fn result(keys: Keys, n: u64) -> ReadRecord {
        let (key, seq) = keys.place(n);
        let body = Header {
            producer: key,
            seq,
            sent_at: Duration::from_millis(n),
        }
        .encode(SIZE);
        let value = ferry_client::api::encode_data(Some(body), ReadEncoding::Base64);
        ReadRecord {
            offset: n,
            key: Some(Keys::name(key)),
            value: value.0,
            value_base64: value.1,
            headers: vec![
                RecordHeader::encode(
                    SOURCE_ID_HEADER.to_owned(),
                    Some(id(n).to_string().into_bytes()),
                    ReadEncoding::Auto,
                ),
                RecordHeader::encode(
                    COMPLETING_AT_ATTRIBUTE.to_owned(),
                    Some(b"5000000".to_vec()),
                    ReadEncoding::Auto,
                ),
            ],
            ..ReadRecord::default()
        }
    }

    fn check(keys: u32, messages: u64, order: &[u64]) -> ResultCheck {
        let keys = Keys::new(keys);
        let mut checker = Checker::new(keys, messages, SIZE);
        for &n in order {
            checker.check(&result(keys, n));
        }
        let ids: Vec<_> = (0..messages).map(id).collect();
        checker.verdict(&ids)
    }

    #[test]
    fn keys_interleaved_but_each_in_order_is_clean() {
        // Key 0: 0, 2, 4; key 1: 1, 3, 5. The keys may overtake each other.
        let c = check(2, 6, &[1, 0, 3, 5, 2, 4]);
        assert!(c.is_clean(), "{c:?}");
        assert_eq!((c.acknowledged, c.read, c.found), (6, 6, 6));
    }

    #[test]
    fn a_later_result_of_the_same_key_first_is_out_of_order() {
        let c = check(2, 6, &[0, 4, 2, 1, 3, 5]);
        assert_eq!((c.out_of_order, c.lost, c.duplicated), (1, 0, 0));
        assert!(!c.is_clean());
    }

    #[test]
    fn missing_results_are_lost_and_repeats_duplicated() {
        let c = check(1, 4, &[0, 1, 1, 3]);
        assert_eq!((c.lost, c.duplicated, c.out_of_order), (1, 1, 0));
        assert_eq!((c.read, c.found), (4, 3));
    }

    #[test]
    fn a_wrong_key_or_source_id_is_mismatched() {
        let keys = Keys::new(2);
        let mut checker = Checker::new(keys, 2, SIZE);
        let mut wrong_key = result(keys, 0);
        wrong_key.key = Some(Keys::name(1));
        checker.check(&wrong_key);
        let mut wrong_source = result(keys, 1);
        wrong_source.headers[0] = RecordHeader::encode(
            SOURCE_ID_HEADER.to_owned(),
            Some(id(0).to_string().into_bytes()),
            ReadEncoding::Auto,
        );
        checker.check(&wrong_source);
        let c = checker.verdict(&[id(0), id(1)]);
        assert_eq!((c.mismatched, c.lost), (2, 0));
        assert_eq!(
            checker.verdict(&[id(0)]).mismatched,
            2,
            "1 never acknowledged"
        );
    }

    #[test]
    fn foreign_values_are_malformed() {
        let keys = Keys::new(1);
        let mut checker = Checker::new(keys, 2, SIZE);
        let mut short = result(keys, 0);
        short.value_base64 = Some("AAAA".to_owned());
        assert_eq!(checker.check(&short), None);
        assert_eq!(checker.check(&result(keys, 5)), None, "beyond the run");
        assert_eq!(checker.tally.malformed, 2);
        let first = checker.check(&result(keys, 1));
        assert_eq!(
            first,
            Some(FirstResult {
                sent_at: Duration::from_millis(1),
                completing_at: Some(Duration::from_millis(5)),
            })
        );
    }
}
