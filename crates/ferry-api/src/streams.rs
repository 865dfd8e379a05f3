//! Event streams: management (`PUT`/`GET`/`DELETE /v1/streams/{s}`, `GET /v1/streams`,
//! `POST /v1/streams/{s}/compact`), appends (`POST /v1/streams/{s}/records`) and partition reads
//! (`GET /v1/streams/{s}/partitions/{p}…`). Consumer groups are in [`crate::groups`].
//!
//! The request body of `PUT /v1/streams/{s}` is a [`StreamConfig`] itself (every key optional,
//! unknown keys refused).
//!
//! Keys, values and header values are bytes. On the wire each travels as UTF-8 text (`key`,
//! `value`) or as standard base64 (`key_base64`, `value_base64`); a record with neither value
//! field is a *tombstone*, which tells key compaction to forget the key. Reads hand bytes back
//! as text when they are valid UTF-8 and as base64 otherwise, or always as base64 with
//! `encoding=base64` ([`ReadEncoding`]). [`decode_data`] and [`encode_data`] convert between the
//! two wire fields and bytes.

use crate::body::{BodyError, decode_body, encode_body, to_base64};
use crate::time::rfc3339;
use ferry_core::Timestamp;
use ferry_core::queue::{Body, BodyEncoding};
use ferry_core::stream::StreamConfig;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A stream's name and config: the reply to `PUT /v1/streams/{s}` and an entry of the list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamEntry {
    /// The stream's name.
    pub name: String,
    /// Its full configuration, defaults filled in.
    pub config: StreamConfig,
}

/// The reply to `GET /v1/streams`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamList {
    /// Every stream, by name.
    pub streams: Vec<StreamEntry>,
}

/// The reply to `GET /v1/streams/{s}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamDetails {
    /// The stream's name.
    pub name: String,
    /// Its full configuration.
    pub config: StreamConfig,
    /// When the stream was created.
    #[serde(with = "rfc3339")]
    pub created_at: Timestamp,
    /// When its config last changed.
    #[serde(with = "rfc3339")]
    pub updated_at: Timestamp,
    /// Every partition, by number.
    pub partitions: Vec<PartitionInfo>,
    /// The names of its consumer groups.
    #[serde(default)]
    pub groups: Vec<String>,
}

/// Where a partition's records begin and end: the reply to `GET /v1/streams/{s}/partitions/{p}`
/// and an entry of [`StreamDetails::partitions`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionInfo {
    /// The partition's number, from 0.
    pub partition: u32,
    /// The first offset still stored (earlier ones were retained away).
    pub start_offset: u64,
    /// The offset the next record will get: one past the last durable record. Records that are
    /// not durable yet do not count, so nothing below it can be lost in a crash.
    pub end_offset: u64,
    /// Bytes the partition's log takes on disk.
    pub bytes: u64,
    /// How many segment files hold it.
    pub segments: u64,
}

/// The reply to `POST /v1/streams/{s}/compact`, which runs key compaction at once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactResponse {
    /// Segments written anew without their superseded records.
    pub segments_rewritten: u64,
    /// Records dropped because a later record has the same key (or a tombstone expired).
    pub records_removed: u64,
}

/// The body of `POST /v1/streams/{s}/records`: a non-empty batch, appended all or nothing and
/// answered once durable.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppendRequest {
    /// The records, in order; within a partition they get consecutive offsets in this order.
    pub records: Vec<AppendRecord>,
    /// Optimistic concurrency: the offset the first record must get. Every record must then go
    /// to the same partition; if that partition's next offset differs, nothing is appended and
    /// the reply is 409 `offset_mismatch` with the actual `next_offset`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_offset: Option<u64>,
}

/// One record to append. At most one of `key`/`key_base64` and one of `value`/`value_base64`
/// may be set; no value at all makes a tombstone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppendRecord {
    /// A UTF-8 key. Records with equal keys go to the same partition (unless `partition` says
    /// otherwise), and compaction keeps only the latest record of each key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// A binary key, standard base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_base64: Option<String>,
    /// A UTF-8 value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// A binary value, standard base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_base64: Option<String>,
    /// Headers, in order; names may repeat.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<AppendHeader>,
    /// The record's own time (default: when the broker appends it); what
    /// `GET …/offsets?timestamp=` searches and time-based retention goes by.
    #[serde(
        default,
        with = "rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub timestamp: Option<Timestamp>,
    /// The partition to append to (default: chosen from the key's hash, or spread when there
    /// is no key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<u32>,
}

impl AppendRecord {
    /// A record with a text value and nothing else set.
    pub fn text(value: impl Into<String>) -> AppendRecord {
        AppendRecord {
            value: Some(value.into()),
            ..AppendRecord::default()
        }
    }

    /// A record with a binary value and nothing else set.
    pub fn binary(value: &[u8]) -> AppendRecord {
        AppendRecord {
            value_base64: Some(to_base64(value)),
            ..AppendRecord::default()
        }
    }

    /// A tombstone of a text key: compaction forgets the key's earlier records.
    pub fn tombstone(key: impl Into<String>) -> AppendRecord {
        AppendRecord::default().with_key(key)
    }

    /// This record with a text key (replacing any key).
    pub fn with_key(self, key: impl Into<String>) -> AppendRecord {
        AppendRecord {
            key: Some(key.into()),
            key_base64: None,
            ..self
        }
    }

    /// This record with a binary key (replacing any key).
    pub fn with_binary_key(self, key: &[u8]) -> AppendRecord {
        AppendRecord {
            key: None,
            key_base64: Some(to_base64(key)),
            ..self
        }
    }

    /// This record with one more header.
    pub fn with_header(mut self, header: AppendHeader) -> AppendRecord {
        self.headers.push(header);
        self
    }

    /// This record bound for one partition.
    pub fn with_partition(self, partition: u32) -> AppendRecord {
        AppendRecord {
            partition: Some(partition),
            ..self
        }
    }

    /// The key's bytes, `None` without a key.
    ///
    /// # Errors
    /// [`DataError`] if both key fields are set or `key_base64` is not valid base64.
    pub fn decode_key(&self) -> Result<Option<Vec<u8>>, DataError> {
        decode_data("key", self.key.clone(), self.key_base64.clone())
    }

    /// The value's bytes, `None` for a tombstone.
    ///
    /// # Errors
    /// [`DataError`] if both value fields are set or `value_base64` is not valid base64.
    pub fn decode_value(&self) -> Result<Option<Vec<u8>>, DataError> {
        decode_data("value", self.value.clone(), self.value_base64.clone())
    }
}

/// A header of a record to append: a name and a value as text, base64, or neither (null).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppendHeader {
    /// The header's name.
    pub name: String,
    /// A UTF-8 value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// A binary value, standard base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_base64: Option<String>,
}

impl AppendHeader {
    /// A header with a text value.
    pub fn text(name: impl Into<String>, value: impl Into<String>) -> AppendHeader {
        AppendHeader {
            name: name.into(),
            value: Some(value.into()),
            value_base64: None,
        }
    }

    /// A header with a binary value.
    pub fn binary(name: impl Into<String>, value: &[u8]) -> AppendHeader {
        AppendHeader {
            name: name.into(),
            value: None,
            value_base64: Some(to_base64(value)),
        }
    }

    /// The value's bytes, `None` for a null value.
    ///
    /// # Errors
    /// [`DataError`] if both value fields are set or `value_base64` is not valid base64.
    pub fn decode_value(&self) -> Result<Option<Vec<u8>>, DataError> {
        decode_data(
            "headers[].value",
            self.value.clone(),
            self.value_base64.clone(),
        )
    }
}

/// The reply to an append: where each record went, in the batch's order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendResponse {
    /// One entry per record.
    pub records: Vec<AppendedRecord>,
}

/// Where one appended record went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendedRecord {
    /// Its partition.
    pub partition: u32,
    /// Its offset in that partition.
    pub offset: u64,
}

/// A position to read from: `earliest`, `latest` or an offset. On the wire (query strings and
/// JSON) it is the word or the number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OffsetSpec {
    /// The partition's first stored record.
    Earliest,
    /// The partition's end: only records appended from now on.
    Latest,
    /// This offset.
    At(u64),
}

/// Why a string is not an [`OffsetSpec`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid offset {0:?}: expected earliest, latest or a number")]
pub struct OffsetSpecError(pub String);

impl FromStr for OffsetSpec {
    type Err = OffsetSpecError;

    fn from_str(s: &str) -> Result<OffsetSpec, OffsetSpecError> {
        match s {
            "earliest" => Ok(OffsetSpec::Earliest),
            "latest" => Ok(OffsetSpec::Latest),
            digits => digits
                .parse()
                .map(OffsetSpec::At)
                .map_err(|_| OffsetSpecError(s.chars().take(64).collect())),
        }
    }
}

impl fmt::Display for OffsetSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OffsetSpec::Earliest => f.write_str("earliest"),
            OffsetSpec::Latest => f.write_str("latest"),
            OffsetSpec::At(offset) => write!(f, "{offset}"),
        }
    }
}

impl Serialize for OffsetSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            OffsetSpec::At(offset) => s.serialize_u64(*offset),
            word => s.collect_str(word),
        }
    }
}

impl<'de> Deserialize<'de> for OffsetSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<OffsetSpec, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = OffsetSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("earliest, latest or a non-negative offset")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<OffsetSpec, E> {
                Ok(OffsetSpec::At(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<OffsetSpec, E> {
                u64::try_from(v)
                    .map(OffsetSpec::At)
                    .map_err(|_| E::custom(format!("offset {v} is negative")))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<OffsetSpec, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// How reads hand back keys, values and header values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadEncoding {
    /// As text (`key`, `value`) when the bytes are valid UTF-8, else as base64.
    #[default]
    Auto,
    /// Always as base64 (`key_base64`, `value_base64`), for consumers of binary data.
    Base64,
}

/// The query of `GET /v1/streams/{s}/partitions/{p}/records`; every field is optional.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadQuery {
    /// Where to start (default `earliest`). An offset past the partition's end is refused
    /// with 400 `offset_out_of_range`; one that no longer exists starts at the first later
    /// record (see [`ReadResponse::skipped_to`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<OffsetSpec>,
    /// Most records to return.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_records: Option<u32>,
    /// Most bytes of records to return (at least one record is returned if any is there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
    /// Long poll: how long to wait when there is nothing at `offset` yet (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_ms: Option<u64>,
    /// How to return the bytes (default `auto`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<ReadEncoding>,
}

/// The response header of a partition read that repeats its `next_offset`, so that a reader
/// can ask for the next records as soon as the headers arrive, before it has the body.
pub const NEXT_OFFSET_HEADER: &str = "ferry-next-offset";

/// The reply to a partition read (possibly no records, after the long poll ran out).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadResponse {
    /// The records, in offset order (offsets may have gaps where compaction removed records).
    pub records: Vec<ReadRecord>,
    /// Where the next read should start.
    pub next_offset: u64,
    /// The partition's first stored offset.
    pub start_offset: u64,
    /// The partition's end (the next offset to be written).
    pub end_offset: u64,
    /// Set when the requested offset no longer exists (retained away or compacted): reading
    /// started at this later offset instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped_to: Option<u64>,
}

/// A record as read. At most one of `key`/`key_base64` is set, and at most one of
/// `value`/`value_base64` (neither for a tombstone).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadRecord {
    /// Its partition: set where records of several partitions come together (group polls and
    /// group events), absent in a partition read, whose path names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<u32>,
    /// Its offset.
    pub offset: u64,
    /// A UTF-8 key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// A binary key, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_base64: Option<String>,
    /// A UTF-8 value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// A binary value, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_base64: Option<String>,
    /// Its headers, in order.
    #[serde(default)]
    pub headers: Vec<RecordHeader>,
    /// Its time (given by the producer, or when it was appended).
    #[serde(with = "rfc3339")]
    pub timestamp: Timestamp,
}

impl ReadRecord {
    /// The key's bytes, `None` without a key.
    ///
    /// # Errors
    /// [`DataError`] if the server sent both key fields or invalid base64.
    pub fn decode_key(&self) -> Result<Option<Vec<u8>>, DataError> {
        decode_data("key", self.key.clone(), self.key_base64.clone())
    }

    /// The value's bytes, `None` for a tombstone.
    ///
    /// # Errors
    /// [`DataError`] if the server sent both value fields or invalid base64.
    pub fn decode_value(&self) -> Result<Option<Vec<u8>>, DataError> {
        decode_data("value", self.value.clone(), self.value_base64.clone())
    }

    /// Whether this record is a tombstone (has no value).
    pub fn is_tombstone(&self) -> bool {
        self.value.is_none() && self.value_base64.is_none()
    }
}

/// A header of a record as read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordHeader {
    /// The header's name.
    pub name: String,
    /// A UTF-8 value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// A binary value, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_base64: Option<String>,
}

impl RecordHeader {
    /// A header with `value` written the way `encoding` says (for the server).
    pub fn encode(name: String, value: Option<Vec<u8>>, encoding: ReadEncoding) -> RecordHeader {
        let (value, value_base64) = encode_data(value, encoding);
        RecordHeader {
            name,
            value,
            value_base64,
        }
    }

    /// The value's bytes, `None` for a null value.
    ///
    /// # Errors
    /// [`DataError`] if the server sent both value fields or invalid base64.
    pub fn decode_value(&self) -> Result<Option<Vec<u8>>, DataError> {
        decode_data(
            "headers[].value",
            self.value.clone(),
            self.value_base64.clone(),
        )
    }
}

/// The query of `GET /v1/streams/{s}/partitions/{p}/offsets`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OffsetForTimeQuery {
    /// The instant to look up.
    #[serde(with = "rfc3339")]
    pub timestamp: Timestamp,
}

/// The reply to `GET /v1/streams/{s}/partitions/{p}/offsets?timestamp=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetForTime {
    /// The partition.
    pub partition: u32,
    /// The offset of its first record with a timestamp at or after the one asked for; `null`
    /// when there is none.
    pub offset: Option<u64>,
}

/// Why a key, value or header value pair of wire fields was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// Both the text and the base64 field were given.
    #[error("give either {field} or {field}_base64, not both")]
    Both {
        /// The text field's name, e.g. `key`.
        field: &'static str,
    },
    /// The base64 field is not valid standard base64.
    #[error("{field}_base64 is not valid base64: {reason}")]
    Base64 {
        /// The text field's name, e.g. `value`.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// Turns a pair of wire fields (`field`, `field_base64`) into bytes; neither means `None` (no
/// key, a tombstone, a null header value). `field` names the pair in errors.
///
/// # Errors
/// [`DataError`] if both are set or the base64 one is not valid standard base64 (with padding).
pub fn decode_data(
    field: &'static str,
    text: Option<String>,
    base64: Option<String>,
) -> Result<Option<Vec<u8>>, DataError> {
    match decode_body(text, base64) {
        Ok(body) => Ok(Some(body.bytes)),
        Err(BodyError::Neither) => Ok(None),
        Err(BodyError::Both) => Err(DataError::Both { field }),
        Err(BodyError::Base64(reason)) => Err(DataError::Base64 { field, reason }),
    }
}

/// Turns bytes into the pair of wire fields `(text, base64)`: text when `encoding` is
/// [`ReadEncoding::Auto`] and the bytes are valid UTF-8, else base64; `(None, None)` for `None`.
pub fn encode_data(
    bytes: Option<Vec<u8>>,
    encoding: ReadEncoding,
) -> (Option<String>, Option<String>) {
    let Some(bytes) = bytes else {
        return (None, None);
    };
    let encoding = match encoding {
        ReadEncoding::Auto => BodyEncoding::Text,
        ReadEncoding::Base64 => BodyEncoding::Binary,
    };
    encode_body(Body { bytes, encoding })
}

#[cfg(test)]
mod tests;
