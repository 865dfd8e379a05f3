//! Validated names and identifiers.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest queue name accepted, including a `.fifo` suffix.
pub const MAX_NAME_CHARS: usize = 80;

/// The suffix every FIFO queue name carries (as in SQS).
pub const FIFO_SUFFIX: &str = ".fifo";

/// Why a name was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid name {name:?}: {reason}")]
pub struct InvalidName {
    /// The name as given (cut to a readable length).
    pub name: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// A queue's name: 1 to 80 characters of `[A-Za-z0-9_-]`, optionally ending in `.fifo`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct QueueName(String);

impl QueueName {
    /// Validates `name`.
    ///
    /// # Errors
    /// [`InvalidName`] when it is empty, too long, or has a character outside `[A-Za-z0-9_-]`
    /// (besides a final `.fifo`).
    pub fn new(name: &str) -> Result<QueueName, InvalidName> {
        let refuse = |reason| InvalidName {
            name: name.chars().take(100).collect(),
            reason,
        };
        if name.len() > MAX_NAME_CHARS {
            return Err(refuse("longer than 80 characters"));
        }
        let base = name.strip_suffix(FIFO_SUFFIX).unwrap_or(name);
        if base.is_empty() {
            return Err(refuse("empty"));
        }
        if !base
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(refuse(
                "only letters, digits, '_' and '-' are allowed (plus a final '.fifo')",
            ));
        }
        Ok(QueueName(name.to_owned()))
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the name ends in `.fifo`.
    pub fn has_fifo_suffix(&self) -> bool {
        self.0.ends_with(FIFO_SUFFIX)
    }
}

impl TryFrom<String> for QueueName {
    type Error = InvalidName;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        QueueName::new(&s)
    }
}

impl From<QueueName> for String {
    fn from(n: QueueName) -> String {
        n.0
    }
}

impl fmt::Display for QueueName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Longest stream name accepted (Kafka's topic-name limit).
pub const MAX_STREAM_NAME_CHARS: usize = 249;

/// Longest consumer-group name accepted.
pub const MAX_GROUP_NAME_CHARS: usize = 255;

/// Checks the rule stream and group names share: 1 to `max_chars` characters of
/// `[A-Za-z0-9._-]`.
fn check_dotted_name(
    name: &str,
    max_chars: usize,
    too_long: &'static str,
) -> Result<(), InvalidName> {
    let refuse = |reason| InvalidName {
        name: name.chars().take(100).collect(),
        reason,
    };
    if name.is_empty() {
        return Err(refuse("empty"));
    }
    if name.len() > max_chars {
        return Err(refuse(too_long));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(refuse("only letters, digits, '.', '_' and '-' are allowed"));
    }
    Ok(())
}

/// Implements the string conversions and `Display` a validated name type needs.
macro_rules! name_conversions {
    ($name:ident) => {
        impl TryFrom<String> for $name {
            type Error = InvalidName;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                $name::new(&s)
            }
        }

        impl From<$name> for String {
            fn from(n: $name) -> String {
                n.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

/// A stream's name, with Kafka's topic rules so that a Kafka topic *is* a stream: 1 to 249
/// characters of `[A-Za-z0-9._-]`, and neither `.` nor `..`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StreamName(String);

impl StreamName {
    /// Validates `name`.
    ///
    /// # Errors
    /// [`InvalidName`] when it is empty, longer than 249 characters, has a character outside
    /// `[A-Za-z0-9._-]`, or is `.` or `..`.
    pub fn new(name: &str) -> Result<StreamName, InvalidName> {
        check_dotted_name(name, MAX_STREAM_NAME_CHARS, "longer than 249 characters")?;
        if name == "." || name == ".." {
            return Err(InvalidName {
                name: name.to_owned(),
                reason: "'.' and '..' are not allowed",
            });
        }
        Ok(StreamName(name.to_owned()))
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

name_conversions!(StreamName);

/// A consumer group's name (Kafka's `group.id`): 1 to 255 characters of `[A-Za-z0-9._-]`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GroupName(String);

impl GroupName {
    /// Validates `name`.
    ///
    /// # Errors
    /// [`InvalidName`] when it is empty, longer than 255 characters, or has a character outside
    /// `[A-Za-z0-9._-]`.
    pub fn new(name: &str) -> Result<GroupName, InvalidName> {
        check_dotted_name(name, MAX_GROUP_NAME_CHARS, "longer than 255 characters")?;
        Ok(GroupName(name.to_owned()))
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

name_conversions!(GroupName);

/// A message's identity, unique across queues: the queue's random incarnation id (high 64 bits)
/// and the message's sequence number in that queue (low 64 bits). Shown as a UUID-like string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MessageId(pub u128);

impl MessageId {
    /// The id of message `seq` of the queue whose incarnation id is `queue_uid`.
    pub fn new(queue_uid: u64, seq: u64) -> MessageId {
        MessageId((u128::from(queue_uid) << 64) | u128::from(seq))
    }

    /// The incarnation id of the queue that assigned this id.
    pub fn queue_uid(self) -> u64 {
        (self.0 >> 64) as u64
    }

    /// The sequence number within that queue.
    pub fn seq(self) -> u64 {
        self.0 as u64
    }

    /// Parses the form produced by `Display` (hex with or without dashes).
    pub fn parse(s: &str) -> Option<MessageId> {
        // Byte by byte, with no copy: clients parse one id per message they send or receive.
        let mut value = 0u128;
        let mut digits = 0;
        for byte in s.bytes().filter(|b| *b != b'-') {
            value = (value << 4) | u128::from(hex_value(byte)?);
            digits += 1;
            if digits > 32 {
                return None;
            }
        }
        (digits == 32).then_some(MessageId(value))
    }
}

impl MessageId {
    /// The id in its 8-4-4-4-12 hex form, written without the formatting machinery: ids are
    /// written once per message on the hot path.
    pub fn text(self) -> IdText {
        let mut digits = [0u8; 32];
        hex_into(&self.0.to_be_bytes(), &mut digits);
        let mut out = [b'-'; 36];
        for (range, at) in [
            (0..8, 0),
            (8..12, 9),
            (12..16, 14),
            (16..20, 19),
            (20..32, 24),
        ] {
            let len = range.len();
            if let (Some(dst), Some(src)) = (out.get_mut(at..at + len), digits.get(range)) {
                dst.copy_from_slice(src);
            }
        }
        IdText(out)
    }
}

/// A message id written out ([`MessageId::text`]), on the stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdText([u8; 36]);

impl IdText {
    /// The text.
    pub fn as_str(&self) -> &str {
        // Hex digits and dashes only, so always valid UTF-8.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text().as_str())
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Writes `bytes` as lowercase hex into `out` (which must be twice as long).
fn hex_into(bytes: &[u8], out: &mut [u8]) {
    for (byte, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        pair[0] = HEX[usize::from(byte >> 4)];
        pair[1] = HEX[usize::from(byte & 0x0f)];
    }
}

/// The value of one hex digit.
fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// An opaque handle naming one lease: which message, and which delivery of it.
///
/// A message that is delivered again gets a higher receive count, so a receipt from an earlier
/// delivery is recognisably stale and cannot ack or extend the new lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Receipt {
    /// The leased message.
    pub id: MessageId,
    /// The receive count of the delivery this receipt belongs to.
    pub receive_count: u32,
}

impl Receipt {
    /// Encodes the receipt as an opaque string of 40 hex digits.
    pub fn encode(&self) -> String {
        // Scrambled with a fixed mask so clients don't mistake it for something to parse.
        let mut bytes = [0u8; 20];
        bytes[..16].copy_from_slice(&self.id.0.to_be_bytes());
        bytes[16..].copy_from_slice(&self.receive_count.to_be_bytes());
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte ^= RECEIPT_MASK[i % 4];
        }
        let mut out = [0u8; 40];
        hex_into(&bytes, &mut out);
        out.iter().copied().map(char::from).collect()
    }

    /// Decodes a string made by [`Receipt::encode`]; `None` if it is not one.
    pub fn decode(s: &str) -> Option<Receipt> {
        let digits = s.as_bytes();
        if digits.len() != 40 {
            return None;
        }
        let mut bytes = [0u8; 20];
        for (i, (byte, pair)) in bytes.iter_mut().zip(digits.chunks_exact(2)).enumerate() {
            let high = hex_value(*pair.first()?)?;
            let low = hex_value(*pair.get(1)?)?;
            *byte = ((high << 4) | low) ^ RECEIPT_MASK[i % 4];
        }
        let id = u128::from_be_bytes(bytes[..16].try_into().ok()?);
        let receive_count = u32::from_be_bytes(bytes[16..].try_into().ok()?);
        Some(Receipt {
            id: MessageId(id),
            receive_count,
        })
    }
}

const RECEIPT_MASK: [u8; 4] = [0x5a, 0xc3, 0x96, 0x2f];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names() {
        for ok in [
            "a",
            "orders",
            "A-b_9",
            "jobs.fifo",
            &"x".repeat(80),
            &format!("{}.fifo", "y".repeat(75)),
        ] {
            assert!(QueueName::new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".fifo",
            "a.b",
            "a b",
            "é",
            &"x".repeat(81),
            "a.fifo.fifo",
            "a/b",
        ] {
            assert!(QueueName::new(bad).is_err(), "{bad}");
        }
        assert!(
            QueueName::new("jobs.fifo")
                .map(|n| n.has_fifo_suffix())
                .unwrap_or(false)
        );
    }

    #[test]
    fn stream_names() {
        for ok in [
            "a",
            "orders.v2",
            "A-b_9.c",
            "...",
            ".hidden",
            &"x".repeat(MAX_STREAM_NAME_CHARS),
        ] {
            assert_eq!(
                StreamName::new(ok).map(|n| n.to_string()),
                Ok(ok.to_owned())
            );
        }
        for bad in [
            "",
            ".",
            "..",
            "a b",
            "a/b",
            "é",
            "a:b",
            &"x".repeat(MAX_STREAM_NAME_CHARS + 1),
        ] {
            assert!(StreamName::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn group_names() {
        for ok in ["g", ".", "..", "billing.workers-2_a", &"x".repeat(255)] {
            assert_eq!(GroupName::new(ok).map(|n| n.to_string()), Ok(ok.to_owned()));
        }
        for bad in ["", "a b", "a/b", "ü", &"x".repeat(256)] {
            assert!(GroupName::new(bad).is_err(), "{bad}");
        }
        assert_eq!(
            GroupName::new(&"x".repeat(256)).map_err(|e| e.reason),
            Err("longer than 255 characters")
        );
    }

    #[test]
    fn stream_and_group_names_serialise_as_strings() {
        let s: StreamName =
            serde_json::from_str(r#""orders.v2""#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.as_str(), "orders.v2");
        assert_eq!(
            serde_json::to_string(&s).ok().as_deref(),
            Some(r#""orders.v2""#)
        );
        assert!(serde_json::from_str::<StreamName>("\"..\"").is_err());
        let g: GroupName = serde_json::from_str(r#""workers""#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(g.as_str(), "workers");
        assert!(serde_json::from_str::<GroupName>(r#""a b""#).is_err());
    }

    #[test]
    fn message_id_round_trips() {
        let id = MessageId::new(0xdead_beef_0000_0001, 42);
        let shown = id.to_string();
        assert_eq!(shown.len(), 36);
        assert_eq!(MessageId::parse(&shown), Some(id));
        assert_eq!((id.queue_uid(), id.seq()), (0xdead_beef_0000_0001, 42));
        assert_eq!(MessageId::parse("nope"), None);
        let wide = MessageId(0x0123_4567_89ab_cdef_fedc_ba98_7654_3210);
        assert_eq!(wide.to_string(), "01234567-89ab-cdef-fedc-ba9876543210");
        let bare = "0123456789ABCDEFfedcba9876543210";
        assert_eq!(MessageId::parse(bare), Some(wide), "no dashes, either case");
        for bad in [
            "",
            "0123456789abcdeffedcba987654321",
            "0123456789abcdeffedcba98765432100",
            "+123456789abcdeffedcba9876543210",
            "0123456789abcdeffedcba987654321g",
        ] {
            assert_eq!(MessageId::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn receipts_round_trip_and_reject_garbage() {
        let r = Receipt {
            id: MessageId::new(7, 9),
            receive_count: 3,
        };
        assert_eq!(Receipt::decode(&r.encode()), Some(r));
        assert_eq!(Receipt::decode("zz"), None);
        assert_eq!(Receipt::decode(&"g".repeat(40)), None);
        assert_eq!(Receipt::decode(&"é".repeat(20)), None);
    }
}
