//! Record framing: how one record is laid out on disk, and a decoder that never panics.
//!
//! Layout (all integers little-endian), documented in `docs/log-format.md`:
//!
//! ```text
//! 0      4        8         16     20              28     29
//! | len  | crc32c | offset  | span | timestamp_ms  | kind | payload ... |
//! ```
//!
//! `len` counts the bytes after the `crc32c` field (21 + payload length) and `crc32c` is the
//! CRC32C (Castagnoli) of exactly those bytes. A record occupies the offsets
//! `offset .. offset + span`: one for a queue command, one per stream record for a batch. The decoder reads bytes from disk, which may be
//! torn or garbage, so this module denies indexing and slicing: every access is checked.

#![deny(clippy::indexing_slicing)]

use crate::error::CorruptReason;

/// Bytes of the `len` field.
const LEN_FIELD_BYTES: usize = 4;
/// Bytes of the `len` and `crc32c` fields: the part of the header the CRC does not cover.
const PREFIX_BYTES: usize = 8;
/// Bytes of `offset`, `span`, `timestamp_ms` and `kind`: the smallest legal `len` (an empty
/// payload).
const MIN_LEN: u32 = 21;

/// Bytes of a record's header; the payload starts this many bytes after the record start.
pub const HEADER_BYTES: usize = 29;
/// Upper bound on one framed record (header and payload), 64 MiB. A `len` field that implies a
/// bigger record is corrupt, and [`crate::Log::append`] refuses payloads that would exceed it.
pub const MAX_RECORD_BYTES: usize = 64 * 1024 * 1024;
/// Largest payload one record can carry.
pub const MAX_PAYLOAD_BYTES: usize = MAX_RECORD_BYTES - HEADER_BYTES;

/// The fixed fields of a record, without its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    /// The first offset the record occupies in its log's offset sequence.
    pub offset: u64,
    /// How many offsets it occupies, at least 1: `offset .. offset + span`.
    pub span: u32,
    /// Producer-given timestamp, milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// Caller-defined record type; the log does not interpret it.
    pub kind: u8,
}

/// What [`decode`] found at the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A whole record whose CRC matched.
    Record {
        /// Its fixed fields.
        header: RecordHeader,
        /// Its payload, borrowed from the input.
        payload: &'a [u8],
        /// Bytes the framed record occupies, header included.
        framed_bytes: usize,
    },
    /// The buffer ends before the record does.
    Incomplete {
        /// Bytes the whole record needs, once the `len` field could be read.
        framed_bytes: Option<usize>,
    },
}

/// Bytes a record with a payload of `payload_bytes` occupies on disk.
pub const fn framed_bytes(payload_bytes: usize) -> usize {
    HEADER_BYTES + payload_bytes
}

impl RecordHeader {
    /// The offset after the record's range, `offset + span`; `None` if that overflows.
    pub fn next_offset(&self) -> Option<u64> {
        self.offset.checked_add(u64::from(self.span))
    }

    /// Whether the span is legal: at least 1, with `offset + span` fitting in a `u64`.
    fn span_is_valid(&self) -> bool {
        self.span > 0 && self.next_offset().is_some()
    }
}

/// Appends the framed record to `out`.
///
/// Returns `None`, writing nothing, if the payload exceeds [`MAX_PAYLOAD_BYTES`] or the span is
/// not valid (0, or `offset + span` overflows), so the encoder never writes what
/// [`decode`] would refuse.
pub fn encode(out: &mut Vec<u8>, header: RecordHeader, payload: &[u8]) -> Option<()> {
    if payload.len() > MAX_PAYLOAD_BYTES || !header.span_is_valid() {
        return None;
    }
    let len = u32::try_from(payload.len()).ok()?.checked_add(MIN_LEN)?;
    let start = out.len();
    out.reserve(framed_bytes(payload.len()));
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&header.offset.to_le_bytes());
    out.extend_from_slice(&header.span.to_le_bytes());
    out.extend_from_slice(&header.timestamp_ms.to_le_bytes());
    out.push(header.kind);
    out.extend_from_slice(payload);
    let crc = crc32c::crc32c(out.get(start + PREFIX_BYTES..)?);
    out.get_mut(start + LEN_FIELD_BYTES..start + PREFIX_BYTES)?
        .copy_from_slice(&crc.to_le_bytes());
    debug_assert_eq!(out.len() - start, framed_bytes(payload.len()));
    Some(())
}

/// Decodes the record at the start of `bytes`.
///
/// Never panics, whatever the input. A `len` outside the legal range or a CRC mismatch is
/// [`CorruptReason`], and so is a span of 0 or one that overflows the offset space; a buffer
/// that ends early is [`Decoded::Incomplete`].
///
/// # Errors
///
/// [`CorruptReason::BadLength`], [`CorruptReason::Checksum`] or [`CorruptReason::BadSpan`].
pub fn decode(bytes: &[u8]) -> Result<Decoded<'_>, CorruptReason> {
    let Some(len) = read_u32(bytes, 0) else {
        return Ok(Decoded::Incomplete { framed_bytes: None });
    };
    let max_len = MAX_RECORD_BYTES - PREFIX_BYTES;
    let len_bytes = usize::try_from(len).unwrap_or(usize::MAX);
    if len < MIN_LEN || len_bytes > max_len {
        return Err(CorruptReason::BadLength { len });
    }
    let framed = PREFIX_BYTES + len_bytes;
    let (Some(stored), Some(body)) = (
        read_u32(bytes, LEN_FIELD_BYTES),
        bytes.get(PREFIX_BYTES..framed),
    ) else {
        return Ok(Decoded::Incomplete {
            framed_bytes: Some(framed),
        });
    };
    let computed = crc32c::crc32c(body);
    if computed != stored {
        return Err(CorruptReason::Checksum { stored, computed });
    }
    let (Some(offset), Some(span), Some(timestamp_ms), Some(&kind), Some(payload)) = (
        read_u64(body, 0),
        read_u32(body, 8),
        read_u64(body, 12),
        body.get(20),
        body.get(MIN_LEN as usize..),
    ) else {
        return Err(CorruptReason::BadLength { len });
    };
    debug_assert_eq!(framed_bytes(payload.len()), framed);
    let header = RecordHeader {
        offset,
        span,
        timestamp_ms,
        kind,
    };
    if !header.span_is_valid() {
        return Err(CorruptReason::BadSpan { offset, span });
    }
    Ok(Decoded::Record {
        header,
        payload,
        framed_bytes: framed,
    })
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let raw: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_le_bytes(raw))
}

fn read_u64(bytes: &[u8], at: usize) -> Option<u64> {
    let raw: [u8; 8] = bytes.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_le_bytes(raw))
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn header(offset: u64) -> RecordHeader {
        RecordHeader {
            offset,
            span: 1,
            timestamp_ms: 1_700_000_000_000,
            kind: 7,
        }
    }

    fn framed(h: RecordHeader, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode(&mut out, h, payload).unwrap();
        out
    }

    #[test]
    fn layout_is_the_documented_one() {
        // docs/log-format.md#record
        let h = RecordHeader {
            span: 0x0304,
            ..header(0x0102)
        };
        let bytes = framed(h, b"hi");
        assert_eq!(bytes.len(), 31);
        assert_eq!(&bytes[0..4], &23u32.to_le_bytes());
        assert_eq!(&bytes[4..8], &crc32c::crc32c(&bytes[8..]).to_le_bytes());
        assert_eq!(&bytes[8..16], &0x0102u64.to_le_bytes());
        assert_eq!(&bytes[16..20], &0x0304u32.to_le_bytes());
        assert_eq!(&bytes[20..28], &1_700_000_000_000u64.to_le_bytes());
        assert_eq!(bytes[28], 7);
        assert_eq!(&bytes[HEADER_BYTES..], b"hi");
    }

    #[test]
    fn golden_record_bytes() {
        // docs/log-format.md#record: the worked example, byte for byte.
        let h = RecordHeader {
            offset: 5,
            span: 3,
            timestamp_ms: 1_700_000_000_000,
            kind: 1,
        };
        let expected: [u8; 31] = [
            0x17, 0x00, 0x00, 0x00, 0x39, 0xfe, 0x56, 0x41, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x68, 0xe5, 0xcf, 0x8b, 0x01, 0x00, 0x00,
            0x01, 0x68, 0x69,
        ];
        assert_eq!(framed(h, b"hi"), expected);
        assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn empty_payload_round_trips() {
        let bytes = framed(header(3), b"");
        let Ok(Decoded::Record {
            header: h,
            payload,
            framed_bytes,
        }) = decode(&bytes)
        else {
            panic!("not a record");
        };
        assert_eq!(h, header(3));
        assert!(payload.is_empty());
        assert_eq!(framed_bytes, HEADER_BYTES);
    }

    #[test]
    fn every_prefix_is_incomplete() {
        let bytes = framed(header(1), b"hello world");
        for cut in 0..bytes.len() {
            assert!(
                matches!(decode(&bytes[..cut]), Ok(Decoded::Incomplete { .. })),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn flipped_bit_anywhere_is_detected() {
        let bytes = framed(header(9), b"payload bytes");
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x10;
            let decoded = decode(&bad);
            assert!(
                !matches!(decoded, Ok(Decoded::Record { .. })),
                "flip at {i} went unnoticed"
            );
        }
    }

    #[test]
    fn impossible_lengths_are_corrupt() {
        let mut zeros = vec![0u8; 64];
        assert_eq!(decode(&zeros), Err(CorruptReason::BadLength { len: 0 }));
        zeros[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            decode(&zeros),
            Err(CorruptReason::BadLength { len: u32::MAX })
        );
    }

    #[test]
    fn spans_that_cover_no_offset_or_overflow_are_refused_and_corrupt() {
        // docs/log-format.md#record: span ≥ 1 and offset + span ≤ u64::MAX.
        for (offset, span) in [(7, 0), (u64::MAX, 1), (u64::MAX - 2, 5)] {
            let bad = RecordHeader {
                offset,
                span,
                ..header(0)
            };
            let mut out = Vec::new();
            assert!(encode(&mut out, bad, b"x").is_none());
            assert!(out.is_empty());
            // Forge the record with a valid CRC: the decoder still refuses it.
            let mut bytes = framed(header(0), b"x");
            bytes[8..16].copy_from_slice(&offset.to_le_bytes());
            bytes[16..20].copy_from_slice(&span.to_le_bytes());
            let crc = crc32c::crc32c(&bytes[8..]);
            bytes[4..8].copy_from_slice(&crc.to_le_bytes());
            assert_eq!(decode(&bytes), Err(CorruptReason::BadSpan { offset, span }));
        }
        let last = RecordHeader {
            offset: u64::MAX - 5,
            span: 5,
            ..header(0)
        };
        assert_eq!(last.next_offset(), Some(u64::MAX));
        assert!(matches!(
            decode(&framed(last, b"")),
            Ok(Decoded::Record { header, .. }) if header == last
        ));
    }

    #[test]
    fn oversized_payload_is_refused() {
        let mut out = Vec::new();
        let payload = vec![0u8; MAX_PAYLOAD_BYTES + 1];
        assert!(encode(&mut out, header(0), &payload).is_none());
        assert!(out.is_empty());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn arbitrary_bytes_after_a_valid_length_never_panic(
            len in 0u32..200,
            rest in proptest::collection::vec(any::<u8>(), 0..256),
        ) {
            let mut bytes = len.to_le_bytes().to_vec();
            bytes.extend_from_slice(&rest);
            let _ = decode(&bytes);
        }

        #[test]
        fn records_round_trip(
            offset in 0..u64::MAX / 2,
            span in 1..=u32::MAX,
            timestamp_ms in any::<u64>(),
            kind in any::<u8>(),
            payload in proptest::collection::vec(any::<u8>(), 0..1024),
            trailing in proptest::collection::vec(any::<u8>(), 0..32),
        ) {
            let h = RecordHeader { offset, span, timestamp_ms, kind };
            let mut bytes = framed(h, &payload);
            let len = bytes.len();
            bytes.extend_from_slice(&trailing);
            match decode(&bytes) {
                Ok(Decoded::Record { header: got, payload: got_payload, framed_bytes }) => {
                    prop_assert_eq!(got, h);
                    prop_assert_eq!(got_payload, &payload[..]);
                    prop_assert_eq!(framed_bytes, len);
                }
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }
    }
}
