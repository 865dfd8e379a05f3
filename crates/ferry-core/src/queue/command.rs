//! What a queue's log records: resolved commands, and how they are laid out in a record.
//!
//! A command is *resolved*: it carries every decision (which messages a receive leased, when a
//! nacked message becomes visible), so that applying it is a pure function of the state and the
//! command, and replaying the log rebuilds exactly the state the live queue had.

use super::attribute::TypedAttributes;
use super::config::QueueConfig;
use super::dedup::DedupKey;
use super::message::{Body, BodyEncoding, DeadLetterInfo};
use super::stored_config::{LegacyConfig, as_json};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where a message's blob (attributes, body, history) lies in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobRef {
    /// Base offset of the segment holding it.
    pub segment: u64,
    /// Byte position in that segment.
    pub position: u64,
    /// Length in bytes.
    pub len: u32,
}

/// Where the first blob of a record lies; the others follow it back to back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlobsAt {
    /// Base offset of the segment holding the record.
    pub segment: u64,
    /// Byte position of the first blob.
    pub position: u64,
}

/// One message of an [`Command::Enqueue`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnqueueEntry {
    /// Its sequence number (assigned when the command was decided).
    pub seq: u64,
    /// When it becomes visible.
    pub visible_at: Timestamp,
    /// When it expires.
    pub expires_at: Timestamp,
    /// Its priority.
    pub priority: u8,
    /// Its FIFO group.
    pub group: Option<String>,
    /// Its dedup key, remembered for the window.
    pub dedup: Option<DedupKey>,
    /// Length of its blob in the record.
    pub blob_len: u32,
    /// Length of its body (what `max_bytes` counts).
    pub body_len: u32,
}

/// Why messages are removed by a [`Command::Remove`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RemoveCause {
    /// Cancelled by id.
    Cancel,
    /// Their dead-letter queue has stored them durably.
    DeadLettered,
}

/// One completion of a [`Command::Complete`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompleteEntry {
    /// The completed message.
    pub seq: u64,
    /// Length of its result's blob in the record.
    pub blob_len: u32,
    /// Length of the result's body.
    pub body_len: u32,
}

/// A resolved queue command: one log record.
///
/// Records are postcard, which numbers variants by position: new variants go at the end, and a
/// variant's fields never change (the first `Configure` became [`Command::LegacyConfigure`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// A config in the first log format (read only; [`Command::Configure`] replaced it).
    LegacyConfigure {
        /// When.
        now: Timestamp,
        /// The new config.
        config: LegacyConfig,
        /// The queue's incarnation id.
        uid: u64,
    },
    /// Adds messages (their blobs follow the command in the record).
    Enqueue {
        /// When.
        now: Timestamp,
        /// The new messages.
        messages: Vec<EnqueueEntry>,
        /// How many messages of the batch were duplicates (not stored).
        duplicates: u32,
        /// Oldest messages pushed out by `overflow = drop_oldest`.
        dropped: Vec<u64>,
    },
    /// Leases messages to a consumer (or removes them, for auto-ack).
    Receive {
        /// When.
        now: Timestamp,
        /// Who received.
        consumer: String,
        /// When the leases run out.
        until: Timestamp,
        /// The messages, in delivery order.
        seqs: Vec<u64>,
        /// Remove on delivery (at-most-once).
        auto_ack: bool,
    },
    /// Deletes leased messages.
    Ack {
        /// When.
        now: Timestamp,
        /// The messages.
        seqs: Vec<u64>,
    },
    /// Gives leased messages back.
    Nack {
        /// When.
        now: Timestamp,
        /// Each message and when it becomes visible again.
        items: Vec<(u64, Timestamp)>,
        /// Why the consumer gave up, kept for the dead-letter history.
        reason: Option<String>,
    },
    /// Moves lease deadlines.
    ChangeVisibility {
        /// When.
        now: Timestamp,
        /// Each message and its new lease deadline (later than `now`).
        items: Vec<(u64, Timestamp)>,
    },
    /// Removes messages.
    Remove {
        /// When.
        now: Timestamp,
        /// The messages.
        seqs: Vec<u64>,
        /// Why.
        cause: RemoveCause,
    },
    /// Removes every message.
    Purge {
        /// When.
        now: Timestamp,
    },
    /// Points messages at fresh copies of their blobs (which follow the command in the record),
    /// so that the old segments holding them can be deleted.
    Relocate {
        /// When.
        now: Timestamp,
        /// Each message and the length of its copied blob.
        seqs: Vec<(u64, u32)>,
    },
    /// Sets the queue's config (the first record of every queue log, then every update).
    Configure {
        /// When.
        now: Timestamp,
        /// The new config.
        #[serde(with = "as_json")]
        config: QueueConfig,
        /// The queue's incarnation id (the high half of its message ids).
        uid: u64,
    },
    /// Resequencing queues: takes messages out with their results (whose blobs follow the
    /// command in the record), which wait in their key's line until released in order.
    Complete {
        /// When.
        now: Timestamp,
        /// The completions.
        items: Vec<CompleteEntry>,
    },
    /// Resequencing queues: the output stored every release up to `through`.
    Released {
        /// When.
        now: Timestamp,
        /// The last release number stored.
        through: u64,
    },
    /// Resequencing queues: an operator skipped the blocked gaps of a key (`None`: every key).
    SkipGaps {
        /// When.
        now: Timestamp,
        /// The order key.
        key: Option<String>,
    },
    /// Adds messages released by another queue's resequencer (`origin`), whose releases up to
    /// `through` this queue then holds: a repeated hand-over is recognised and not stored twice.
    Import {
        /// When.
        now: Timestamp,
        /// The releasing queue.
        origin: u64,
        /// Its last release number among these messages.
        through: u64,
        /// The new messages.
        messages: Vec<EnqueueEntry>,
        /// Oldest messages pushed out by `overflow = drop_oldest`.
        dropped: Vec<u64>,
    },
    /// A transaction: acks leased messages and posts parcels (whose blobs follow the command
    /// in the record) to the outbox, all in one record.
    Transact {
        /// When.
        now: Timestamp,
        /// The acked messages.
        acks: Vec<u64>,
        /// Each parcel's blob length and payload length.
        parcels: Vec<(u32, u32)>,
    },
}

impl Command {
    /// The time the command happened at.
    pub fn now(&self) -> Timestamp {
        match self {
            Command::LegacyConfigure { now, .. }
            | Command::Configure { now, .. }
            | Command::Complete { now, .. }
            | Command::Released { now, .. }
            | Command::SkipGaps { now, .. }
            | Command::Import { now, .. }
            | Command::Transact { now, .. }
            | Command::Enqueue { now, .. }
            | Command::Receive { now, .. }
            | Command::Ack { now, .. }
            | Command::Nack { now, .. }
            | Command::ChangeVisibility { now, .. }
            | Command::Remove { now, .. }
            | Command::Purge { now }
            | Command::Relocate { now, .. } => *now,
        }
    }
}

/// Why bytes read back from the log are not a valid record or blob.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("undecodable queue record: {0}")]
pub struct CodecError(pub String);

/// Lays out a record: `header_len: u32 LE`, the command (postcard), then the blobs back to back.
///
/// # Errors
/// [`CodecError`] if the command cannot be serialised (never for well-formed commands).
pub fn encode_record(command: &Command, blobs: &[Vec<u8>]) -> Result<Vec<u8>, CodecError> {
    let header = postcard::to_allocvec(command).map_err(|e| CodecError(e.to_string()))?;
    let header_len =
        u32::try_from(header.len()).map_err(|_| CodecError("header too large".into()))?;
    let blobs_len: usize = blobs.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(4 + header.len() + blobs_len);
    out.extend_from_slice(&header_len.to_le_bytes());
    out.extend_from_slice(&header);
    for blob in blobs {
        out.extend_from_slice(blob);
    }
    Ok(out)
}

/// Reads a record made by [`encode_record`]: the command, and where its blobs start.
///
/// # Errors
/// [`CodecError`] on any malformed input; never panics.
pub fn decode_record(payload: &[u8]) -> Result<(Command, usize), CodecError> {
    let len_bytes: [u8; 4] = payload
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| CodecError("short record".into()))?;
    let header_len = u32::from_le_bytes(len_bytes) as usize;
    let end = 4usize
        .checked_add(header_len)
        .ok_or_else(|| CodecError("header length overflows".into()))?;
    let header = payload
        .get(4..end)
        .ok_or_else(|| CodecError("header cut short".into()))?;
    let command = postcard::from_bytes(header).map_err(|e| CodecError(e.to_string()))?;
    Ok((command, end))
}

/// A message's stored content, everything not needed to schedule it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blob {
    /// The payload.
    pub body: Body,
    /// Its attributes.
    pub attributes: BTreeMap<String, String>,
    /// Its typed and system attributes (stored after the header only when there are any, so
    /// blobs without them keep the layout they always had).
    pub typed_attributes: TypedAttributes,
    /// The producer's dedup id.
    pub dedup_id: Option<String>,
    /// Its dead-letter history.
    pub dead_letter: Option<DeadLetterInfo>,
}

#[derive(Serialize, Deserialize)]
struct BlobHeader<'a> {
    encoding: BodyEncoding,
    #[serde(borrow)]
    attributes: BTreeMap<&'a str, &'a str>,
    dedup_id: Option<&'a str>,
    dead_letter: Option<DeadLetterInfo>,
}

/// A blob's parts, borrowed: what [`encode_blob_parts`] writes without copying the body or the
/// attributes first.
#[derive(Clone, Copy, Debug)]
pub struct BlobParts<'a> {
    /// The payload.
    pub body: &'a Body,
    /// Its attributes.
    pub attributes: &'a BTreeMap<String, String>,
    /// Its typed and system attributes.
    pub typed_attributes: &'a TypedAttributes,
    /// The producer's dedup id.
    pub dedup_id: Option<&'a str>,
    /// Its dead-letter history.
    pub dead_letter: Option<&'a DeadLetterInfo>,
}

/// The header as written: the same fields as [`BlobHeader`], borrowed (serde writes a
/// reference exactly as the value, so the bytes are the same).
#[derive(Serialize)]
struct BlobHeaderOut<'a> {
    encoding: BodyEncoding,
    attributes: &'a BTreeMap<String, String>,
    dedup_id: Option<&'a str>,
    dead_letter: Option<&'a DeadLetterInfo>,
}

/// Lays out a blob: `header_len: u32 LE`, the header (postcard, followed by the typed
/// attributes in postcard when there are any), then the body bytes.
///
/// # Errors
/// [`CodecError`] if the header cannot be serialised.
pub fn encode_blob(blob: &Blob) -> Result<Vec<u8>, CodecError> {
    encode_blob_parts(BlobParts {
        body: &blob.body,
        attributes: &blob.attributes,
        typed_attributes: &blob.typed_attributes,
        dedup_id: blob.dedup_id.as_deref(),
        dead_letter: blob.dead_letter.as_ref(),
    })
}

/// [`encode_blob`] from borrowed parts: one allocation, the output.
///
/// # Errors
/// [`CodecError`] if the header cannot be serialised.
pub fn encode_blob_parts(parts: BlobParts<'_>) -> Result<Vec<u8>, CodecError> {
    let header = BlobHeaderOut {
        encoding: parts.body.encoding,
        attributes: parts.attributes,
        dedup_id: parts.dedup_id,
        dead_letter: parts.dead_letter,
    };
    let mut header = postcard::to_allocvec(&header).map_err(|e| CodecError(e.to_string()))?;
    if !parts.typed_attributes.is_empty() {
        let typed =
            postcard::to_allocvec(parts.typed_attributes).map_err(|e| CodecError(e.to_string()))?;
        header.extend_from_slice(&typed);
    }
    let header_len =
        u32::try_from(header.len()).map_err(|_| CodecError("blob header too large".into()))?;
    let mut out = Vec::with_capacity(4 + header.len() + parts.body.bytes.len());
    out.extend_from_slice(&header_len.to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(&parts.body.bytes);
    Ok(out)
}

/// Reads a blob made by [`encode_blob`].
///
/// # Errors
/// [`CodecError`] on any malformed input; never panics.
pub fn decode_blob(bytes: &[u8]) -> Result<Blob, CodecError> {
    let len_bytes: [u8; 4] = bytes
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| CodecError("short blob".into()))?;
    let end = 4usize
        .checked_add(u32::from_le_bytes(len_bytes) as usize)
        .ok_or_else(|| CodecError("blob length overflows".into()))?;
    let header = bytes
        .get(4..end)
        .ok_or_else(|| CodecError("blob header cut short".into()))?;
    let (header, rest): (BlobHeader<'_>, &[u8]) =
        postcard::take_from_bytes(header).map_err(|e| CodecError(e.to_string()))?;
    let typed_attributes = if rest.is_empty() {
        TypedAttributes::default()
    } else {
        postcard::from_bytes(rest).map_err(|e| CodecError(e.to_string()))?
    };
    let body = bytes.get(end..).unwrap_or_default().to_vec();
    Ok(Blob {
        body: Body {
            bytes: body,
            encoding: header.encoding,
        },
        attributes: header
            .attributes
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        typed_attributes,
        dedup_id: header.dedup_id.map(str::to_owned),
        dead_letter: header.dead_letter,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn records_round_trip() {
        let cmd = Command::Nack {
            now: Timestamp(5),
            items: vec![(1, Timestamp(9))],
            reason: Some("boom".into()),
        };
        let payload = encode_record(&cmd, &[vec![1, 2, 3], vec![4]]).unwrap_or_default();
        let (decoded, blobs_at) = decode_record(&payload).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(decoded, cmd);
        assert_eq!(payload.get(blobs_at..), Some(&[1u8, 2, 3, 4][..]));
    }

    #[test]
    fn blobs_round_trip() {
        let blob = Blob {
            body: Body::binary(vec![0, 255, 7]),
            attributes: [("k".to_string(), "v".to_string())].into(),
            typed_attributes: TypedAttributes::default(),
            dedup_id: Some("d-1".into()),
            dead_letter: None,
        };
        let bytes = encode_blob(&blob).unwrap_or_default();
        assert_eq!(decode_blob(&bytes), Ok(blob));
    }

    #[test]
    fn typed_attributes_round_trip_and_plain_blobs_keep_their_layout() {
        use super::super::attribute::{TypedAttribute, TypedValue};
        let plain = Blob {
            body: Body::text("hi"),
            attributes: [("k".to_string(), "v".to_string())].into(),
            ..Blob::default()
        };
        let plain_bytes = encode_blob(&plain).unwrap_or_default();
        // The layout of a blob without typed attributes is the one written before they existed.
        let old_header = BlobHeader {
            encoding: BodyEncoding::Text,
            attributes: [("k", "v")].into(),
            dedup_id: None,
            dead_letter: None,
        };
        let old = postcard::to_allocvec(&old_header).unwrap_or_default();
        assert_eq!(plain_bytes.get(4..4 + old.len()), Some(old.as_slice()));
        assert_eq!(plain_bytes.len(), 4 + old.len() + 2);

        let mut typed = plain.clone();
        typed.typed_attributes.message.insert(
            "img".into(),
            TypedAttribute {
                data_type: "Binary.png".into(),
                value: TypedValue::Binary(vec![0, 159, 255]),
            },
        );
        typed.typed_attributes.system.insert(
            "AWSTraceHeader".into(),
            TypedAttribute {
                data_type: "String".into(),
                value: TypedValue::Text("Root=1-5759e988".into()),
            },
        );
        let bytes = encode_blob(&typed).unwrap_or_default();
        assert_eq!(decode_blob(&bytes), Ok(typed));
        assert_eq!(decode_blob(&plain_bytes), Ok(plain));
    }

    #[test]
    fn borrowed_and_owned_headers_write_the_same_bytes() {
        let attributes: BTreeMap<String, String> = [
            ("a".to_string(), "1".to_string()),
            ("b".to_string(), "2".to_string()),
        ]
        .into();
        let owned = BlobHeader {
            encoding: BodyEncoding::Binary,
            attributes: attributes
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect(),
            dedup_id: Some("d"),
            dead_letter: None,
        };
        let borrowed = BlobHeaderOut {
            encoding: BodyEncoding::Binary,
            attributes: &attributes,
            dedup_id: Some("d"),
            dead_letter: None,
        };
        assert_eq!(
            postcard::to_allocvec(&owned).ok(),
            postcard::to_allocvec(&borrowed).ok()
        );
    }

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_record(&bytes);
            let _ = decode_blob(&bytes);
        }
    }
}
