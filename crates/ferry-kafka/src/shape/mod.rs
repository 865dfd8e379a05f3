//! A request's *shape* is checked before the `kafka-protocol` codec decodes it.
//!
//! The codec (0.18) sizes every array with `Vec::with_capacity(count)` using the count read
//! from the wire, before it has read a single element. Eight bytes declaring 2³¹ topics make
//! the allocator fail, and a failed allocation aborts the whole broker, not just the
//! connection. We cannot patch the codec, so [`check`] walks the body first, using a table of
//! each request's fields ([`schemas`], transcribed from Kafka's
//! `clients/src/main/resources/common/message/*Request.json`), and refuses:
//!
//! - an array whose count, times the least number of bytes one element can take, is more than
//!   the bytes left. What the codec then reserves for an array is at most the bytes left,
//!   divided by that least size, times the size of its Rust element type: at worst about 40
//!   times the body (LeaveGroup v4 `members`: 120-byte structs from 3-byte elements), the same
//!   as a genuine body of that size costs;
//! - a string, bytes or tagged field longer than the bytes left, a truncated field, a malformed
//!   varint, a negative length other than the null marker, and null where the field is not
//!   nullable at that version;
//! - a compact string longer than 32767 bytes (Kafka refuses those too);
//! - a declared tagged field whose value does not take exactly the size it announces (the codec
//!   decodes declared tags by type and ignores the size, so the two must agree);
//!
//! Bytes after the last field are allowed, as Kafka allows them: librdkafka writes a null
//! Metadata topic array in flexible versions as four bytes where one is due (its issue #5049),
//! and Kafka brokers ignore the rest. The codec reads the same fields in the same order and
//! stops at the same place, so the bytes it reads are exactly the ones checked here.
//!
//! What this is not: a decoder. It extracts no values, does not validate UTF-8, enum values or
//! record batches, and allocates nothing on the way (an error boxes its description once).
//! The walk recurses only along the schema tree, whose depth is fixed and bounded by
//! `MAX_DEPTH`; input controls loop counts, never recursion depth.

mod schemas;
mod walk;

#[cfg(test)]
mod tests;

use std::fmt;

/// The deepest nesting of structs a schema may have (the deepest request today has 2).
const MAX_DEPTH: usize = 8;

/// The longest compact string Kafka accepts (its generated readers refuse longer ones).
const MAX_STRING_BYTES: u64 = 0x7fff;

/// The most structs (topics and partitions) one Produce request may hold. Produce may be far
/// larger than other requests, since its bulk is record bytes, but its entries are not: a
/// partition entry can take 8 bytes on the wire and costs the codec and the handler some
/// hundred times that, so a frame of empty entries would cost gigabytes. Real producers
/// send one entry per partition they write to.
pub(crate) const MAX_PRODUCE_STRUCTS: usize = 20_000;

/// Checks a request body (the bytes after the request header) of `version` of `api_key`.
///
/// On success every array count in `body` is at most the bytes that follow it, divided by the
/// least size of one element. Returns how many bytes the fields take; bytes after them are
/// ignored, as Kafka does.
///
/// # Errors
/// [`ShapeError::Unsupported`] if Ferry has no table for this API and version, and
/// [`ShapeError::Malformed`] naming the first field that is wrong.
pub(crate) fn check(api_key: i16, version: i16, body: &[u8]) -> Result<usize, ShapeError> {
    let schema = schemas::request(api_key, version)?;
    let flexible = schema.flexible.contains(version);
    let max_structs = if api_key == kafka_protocol::messages::ApiKey::Produce as i16 {
        MAX_PRODUCE_STRUCTS
    } else {
        usize::MAX
    };
    walk::prefix(schema.fields, version, flexible, body, max_structs)
        .map_err(|fault| ShapeError::Malformed(fault.into_malformed(Part::Body)))
}

/// Checks the request header at the start of `frame` (size prefix already removed) and returns
/// its length, where the body starts.
///
/// The header version follows the request's: v2 (with a tagged-field section) for flexible
/// versions, v1 otherwise. The client id keeps its two-byte length even in v2.
///
/// # Errors
/// [`ShapeError::Unsupported`] as for [`check`]; [`ShapeError::HeaderMismatch`] if the header
/// names another API or version than the caller read; [`ShapeError::Malformed`] otherwise.
pub(crate) fn check_header(api_key: i16, version: i16, frame: &[u8]) -> Result<usize, ShapeError> {
    let schema = schemas::request(api_key, version)?;
    let header_version = if schema.flexible.contains(version) {
        2
    } else {
        1
    };
    let header = &schemas::HEADER;
    let flexible = header.flexible.contains(header_version);
    let length = walk::prefix(header.fields, header_version, flexible, frame, usize::MAX)
        .map_err(|fault| ShapeError::Malformed(fault.into_malformed(Part::Header)))?;
    let found_key = i16_at(frame, 0);
    let found_version = i16_at(frame, 2);
    if found_key != Some(api_key) || found_version != Some(version) {
        return Err(ShapeError::HeaderMismatch {
            api_key,
            version,
            found_key: found_key.unwrap_or_default(),
            found_version: found_version.unwrap_or_default(),
        });
    }
    Ok(length)
}

/// The big-endian `i16` at `position`, if the bytes are there.
fn i16_at(bytes: &[u8], position: usize) -> Option<i16> {
    let pair = bytes.get(position..position.checked_add(2)?)?;
    Some(i16::from_be_bytes([*pair.first()?, *pair.get(1)?]))
}

/// Why a request was refused before decoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ShapeError {
    /// Ferry has no table for this API at this version; the caller answers
    /// `UNSUPPORTED_VERSION` (or closes the connection) itself.
    #[error("api key {api_key} v{version} is not one Ferry serves")]
    Unsupported {
        /// The API key of the request.
        api_key: i16,
        /// The version the client asked for.
        version: i16,
    },
    /// The header names a different API or version than the caller passed in.
    #[error(
        "the header says api key {found_key} v{found_version}, not api key {api_key} v{version}"
    )]
    HeaderMismatch {
        /// The API key the caller expected.
        api_key: i16,
        /// The version the caller expected.
        version: i16,
        /// The API key in the header.
        found_key: i16,
        /// The version in the header.
        found_version: i16,
    },
    /// The bytes do not fit the request's schema.
    #[error("{0}")]
    Malformed(Box<Malformed>),
}

/// Where a request's bytes stop fitting its schema, and how. Boxed in [`ShapeError`] so the
/// happy path carries a small `Result`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Malformed {
    /// Header or body.
    pub(crate) part: Part,
    /// The field, outermost first, e.g. `topics[3].partitions`; empty for the message itself.
    pub(crate) path: Path,
    /// What is wrong there.
    pub(crate) problem: Problem,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let part = match self.part {
            Part::Header => "header",
            Part::Body => "body",
        };
        if self.path.is_empty() {
            write!(f, "{part}: {}", self.problem)
        } else {
            write!(f, "{part} {}: {}", self.path, self.problem)
        }
    }
}

/// Which part of the frame a [`Malformed`] is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    /// The request header.
    Header,
    /// The request body.
    Body,
}

/// What is wrong with a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Problem {
    /// A fixed-size field or a length prefix runs past the end.
    #[error("needs {needed} bytes with {left} left")]
    Truncated {
        /// Bytes the field needs.
        needed: usize,
        /// Bytes that were left.
        left: usize,
    },
    /// An array declares more elements than the remaining bytes can hold.
    #[error("array of {count} elements (each at least {min_each} bytes) with {left} bytes left")]
    ArrayTooLong {
        /// The declared element count.
        count: u64,
        /// The fewest bytes one element can take at this version.
        min_each: usize,
        /// Bytes that were left after the count.
        left: usize,
    },
    /// A string, bytes or tagged-field value declares more bytes than are left.
    #[error("{what} of {length} bytes with {left} bytes left")]
    ValueTooLong {
        /// What kind of value.
        what: Value,
        /// The declared length.
        length: u64,
        /// Bytes that were left after the length.
        left: usize,
    },
    /// A tagged-field section declares more fields than the remaining bytes can hold (each
    /// takes at least two bytes).
    #[error("{count} tagged fields with {left} bytes left")]
    TooManyTags {
        /// The declared count.
        count: u64,
        /// Bytes that were left after the count.
        left: usize,
    },
    /// More structs than the request may hold in all (see [`MAX_PRODUCE_STRUCTS`]).
    #[error("more than {max} topic and partition entries")]
    TooManyStructs {
        /// The most allowed.
        max: usize,
    },
    /// A length below -1 (the null marker).
    #[error("negative length {length}")]
    NegativeLength {
        /// The length read.
        length: i32,
    },
    /// Null where this version does not allow it.
    #[error("null, which this version does not allow")]
    UnexpectedNull,
    /// A compact string longer than Kafka allows.
    #[error("string of {length} bytes, longer than the {MAX_STRING_BYTES} Kafka allows")]
    StringOverLimit {
        /// The declared length.
        length: u64,
    },
    /// A varint with too many bytes or bits for its type.
    #[error("malformed varint")]
    BadVarint,
    /// A nullable struct whose presence byte is neither -1 nor 1.
    #[error("presence marker {marker} is neither -1 nor 1")]
    BadMarker {
        /// The byte read.
        marker: i8,
    },
    /// A declared tagged field whose value is not exactly as long as its size says.
    #[error("tagged field {tag} declares {declared} bytes but its value takes {used}")]
    TaggedFieldSize {
        /// The tag.
        tag: u32,
        /// The size the field declares.
        declared: usize,
        /// The bytes its value took.
        used: usize,
    },
    /// The schema nests deeper than `MAX_DEPTH` (a bug in the tables, not in the input).
    #[error("schema nests deeper than {MAX_DEPTH}")]
    TooDeep,
}

/// The kind of length-prefixed value in [`Problem::ValueTooLong`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Value {
    /// A string.
    String,
    /// Bytes or records.
    Bytes,
    /// The value of a tagged field.
    TaggedField,
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Value::String => "string",
            Value::Bytes => "bytes",
            Value::TaggedField => "tagged field",
        })
    }
}

/// A field's place in the message: names outermost first, with the element index where the
/// field is an array element. Fixed capacity (no allocation); deeper levels are elided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Path {
    /// Innermost first, as the error unwinds; `len` of them are set.
    segments: [Segment; MAX_DEPTH],
    /// How many segments are set.
    len: usize,
    /// Whether segments were dropped for lack of room.
    elided: bool,
}

/// One level of a [`Path`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Segment {
    /// The field name (snake case, as `kafka-protocol` names it).
    name: &'static str,
    /// The element index, where the error is inside one element of this array field.
    index: Option<usize>,
}

impl Path {
    /// Whether the path names no field (the error is about the message itself).
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds the next outer level.
    fn push_outer(&mut self, name: &'static str, index: Option<usize>) {
        match self.segments.get_mut(self.len) {
            Some(slot) => {
                *slot = Segment { name, index };
                self.len += 1;
            }
            None => self.elided = true,
        }
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.elided {
            f.write_str("…")?;
        }
        let set = self.segments.get(..self.len).unwrap_or_default();
        for (position, segment) in set.iter().rev().enumerate() {
            if position > 0 || self.elided {
                f.write_str(".")?;
            }
            f.write_str(segment.name)?;
            if let Some(index) = segment.index {
                write!(f, "[{index}]")?;
            }
        }
        Ok(())
    }
}

/// An inclusive range of versions, as Kafka's specs write them ("3+", "0-7", "none").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Versions {
    /// Lowest version in the range.
    min: i16,
    /// Highest version in the range.
    max: i16,
}

impl Versions {
    /// No version ("none").
    const NONE: Versions = Versions { min: 1, max: 0 };

    /// `min` and every later version ("3+").
    const fn from(min: i16) -> Versions {
        Versions { min, max: i16::MAX }
    }

    /// `min` to `max`, both included ("0-7").
    const fn range(min: i16, max: i16) -> Versions {
        Versions { min, max }
    }

    /// Exactly `version` ("1").
    const fn only(version: i16) -> Versions {
        Versions {
            min: version,
            max: version,
        }
    }

    /// Whether `version` is in the range.
    const fn contains(self, version: i16) -> bool {
        self.min <= version && version <= self.max
    }
}

/// How a field is encoded. Whether a string, bytes or array is nullable at a version is the
/// field's `nullable` range, and whether it is compact is the message's flexible range.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    /// 1 byte.
    Int8,
    /// 2 bytes.
    Int16,
    /// 4 bytes.
    Int32,
    /// 8 bytes.
    Int64,
    /// 2 bytes.
    #[allow(
        dead_code,
        reason = "a Kafka wire type no request Ferry serves uses yet"
    )]
    UInt16,
    /// 4 bytes.
    #[allow(
        dead_code,
        reason = "a Kafka wire type no request Ferry serves uses yet"
    )]
    UInt32,
    /// 8 bytes.
    #[allow(
        dead_code,
        reason = "a Kafka wire type no request Ferry serves uses yet"
    )]
    Float64,
    /// 1 byte, any value.
    Bool,
    /// 16 bytes.
    Uuid,
    /// Zigzag varint, at most 5 bytes.
    #[allow(
        dead_code,
        reason = "a Kafka wire type no request Ferry serves uses yet"
    )]
    VarInt,
    /// Zigzag varlong, at most 10 bytes.
    #[allow(
        dead_code,
        reason = "a Kafka wire type no request Ferry serves uses yet"
    )]
    VarLong,
    /// Unsigned varint, at most 5 bytes.
    #[allow(
        dead_code,
        reason = "a Kafka wire type no request Ferry serves uses yet"
    )]
    UnsignedVarInt,
    /// Length-prefixed UTF-8 (`int16` length, or unsigned varint length + 1 when compact).
    String,
    /// Length-prefixed bytes (`int32` length, or unsigned varint length + 1 when compact).
    Bytes,
    /// A record batch set, encoded as bytes.
    Records,
    /// A nested struct (with a tagged-field section of its own in flexible versions). A
    /// nullable struct is preceded by a presence byte.
    Struct(&'static [Field]),
    /// An array of structs.
    Array(&'static [Field]),
    /// An array of a non-struct kind (`[]int32`, `[]string`); elements are never null.
    ScalarArray(&'static Kind),
}

/// One field of a request schema, mirroring an entry of a Kafka JSON spec.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    /// The field's name in snake case, for error paths.
    name: &'static str,
    /// How it is encoded.
    kind: Kind,
    /// The versions in which the field exists ("versions"; for a tagged field, the versions
    /// in which it may appear in the tagged section).
    versions: Versions,
    /// The versions in which it may be null ("nullableVersions").
    nullable: Versions,
    /// Its tag, if it is a tagged field ("tag"), read from the tagged section, not in order.
    tag: Option<u32>,
    /// Overrides the message's flexible versions for this field only (the header's client id
    /// keeps its `int16` length: "flexibleVersions": "none").
    flexible: Option<Versions>,
}

impl Field {
    /// A field of `kind` that exists in `versions`, never null, not tagged.
    const fn new(name: &'static str, kind: Kind, versions: Versions) -> Field {
        Field {
            name,
            kind,
            versions,
            nullable: Versions::NONE,
            tag: None,
            flexible: None,
        }
    }

    /// The same field, nullable in `versions`.
    const fn nullable(self, versions: Versions) -> Field {
        Field {
            nullable: versions,
            ..self
        }
    }

    /// The same field, as tagged field `tag`.
    const fn tagged(self, tag: u32) -> Field {
        Field {
            tag: Some(tag),
            ..self
        }
    }

    /// The same field, with its own flexible versions.
    const fn flexible(self, versions: Versions) -> Field {
        Field {
            flexible: Some(versions),
            ..self
        }
    }
}

/// A request's schema.
#[derive(Debug)]
pub(crate) struct Schema {
    /// The API key.
    api_key: i16,
    /// The versions Ferry serves (a subset of the spec's "validVersions").
    versions: Versions,
    /// The versions using compact encodings and tagged fields ("flexibleVersions").
    flexible: Versions,
    /// The top-level fields, in wire order.
    fields: &'static [Field],
}
