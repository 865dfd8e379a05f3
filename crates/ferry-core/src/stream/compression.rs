//! The four codecs Kafka compresses a batch's records with (attribute bits 0–2): gzip, snappy,
//! lz4 and zstd, each bounded on the way in.
//!
//! Only the records are compressed; the 61-byte batch header never is. Decompression writes
//! into a caller's buffer and stops, with [`BatchError::DecompressedTooLarge`], as soon as the
//! output would pass [`MAX_DECOMPRESSED_BYTES`], so a few kilobytes of crafted input cannot make
//! the broker allocate gigabytes. What each codec accepts is what Kafka clients write:
//!
//! - **gzip**: one or more gzip members (RFC 1952).
//! - **snappy**: either a raw snappy block, as librdkafka writes, or the xerial framing the
//!   Java client writes: the 16-byte header `\x82SNAPPY\0`, version 1, compatible version 1,
//!   then blocks each preceded by its compressed length as a big-endian `u32`.
//! - **lz4**: one or more standard LZ4 frames (Kafka's v2 batches use the standard frame
//!   format, unlike the broken header checksum of v0/v1 message sets).
//! - **zstd**: one or more zstd frames. A frame may ask for a window of up to 128 MiB
//!   (libzstd's default `windowLogMax` of 27, kept so that frames from producers configured
//!   at the highest levels decode); only the part the bounded output writes is touched.

#![deny(clippy::indexing_slicing)]

use super::batch::BatchError;
use super::config::MAX_MAX_RECORD_BYTES;
use std::fmt;
use std::io::{Read, Write};

/// The most bytes a batch's records may decompress to: 64 MiB less 1 KiB, the same bound as
/// the largest record a stream accepts ([`MAX_MAX_RECORD_BYTES`]).
///
/// Why this number: a log record holds at most 64 MiB, and the native API never stores a batch
/// whose records exceed this, so any batch that compression lets through holds records Ferry
/// could have stored uncompressed. In particular compaction, which may rewrite a compressed
/// batch uncompressed, always produces a batch that fits a log record. A bound relative to
/// the compressed size would not do: honest data (zeros, repeated JSON) compresses a
/// thousandfold under gzip and zstd, so any ratio small enough to stop a bomb would refuse
/// real batches.
pub const MAX_DECOMPRESSED_BYTES: usize = MAX_MAX_RECORD_BYTES as usize;

/// How a batch's records are compressed: the codec in attribute bits 0–2.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Compression {
    /// Codec 0: the records are stored as they are.
    #[default]
    None,
    /// Codec 1: gzip (deflate).
    Gzip,
    /// Codec 2: snappy; Ferry writes a raw block and reads the xerial framing too.
    Snappy,
    /// Codec 3: an LZ4 frame.
    Lz4,
    /// Codec 4: Zstandard.
    Zstd,
}

impl Compression {
    /// Every codec, in codec order.
    pub const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    /// The codec number Kafka stores in the attributes.
    pub fn codec(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }

    /// The codec a number names, if any: Kafka defines 0 to 4, and 5 to 7 are unassigned.
    pub fn from_codec(codec: u8) -> Option<Compression> {
        Compression::ALL.into_iter().find(|c| c.codec() == codec)
    }

    /// The codec's name as Kafka's `compression.type` spells it (`none`, `gzip`, `snappy`,
    /// `lz4`, `zstd`).
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// Appends the decompression of `input` to `out`, failing once more than `limit` bytes would be
/// appended. On error `out` holds a partial result the caller must discard.
pub(crate) fn decompress(
    compression: Compression,
    input: &[u8],
    limit: usize,
    out: &mut Vec<u8>,
) -> Result<(), BatchError> {
    let fail = |reason: String| BatchError::Decompress {
        compression,
        reason,
    };
    let start = out.len();
    match compression {
        Compression::None => {
            if input.len() > limit {
                return Err(BatchError::DecompressedTooLarge { compression, limit });
            }
            out.extend_from_slice(input);
            Ok(())
        }
        Compression::Gzip => {
            let decoder = flate2::bufread::MultiGzDecoder::new(input);
            read_bounded(decoder, compression, limit, out)
        }
        Compression::Snappy => snappy_decompress(input, limit, out),
        Compression::Lz4 => lz4_decompress(input, limit, out),
        Compression::Zstd => {
            let decoder =
                zstd::stream::read::Decoder::with_buffer(input).map_err(|e| fail(e.to_string()))?;
            read_bounded(decoder, compression, limit, out)
        }
    }?;
    debug_assert!(out.len() - start <= limit);
    Ok(())
}

/// Reads `decoder` to its end into `out`, reading at most one byte past `limit` to tell a
/// stream of exactly `limit` bytes from a longer one.
fn read_bounded(
    decoder: impl Read,
    compression: Compression,
    limit: usize,
    out: &mut Vec<u8>,
) -> Result<(), BatchError> {
    let start = out.len();
    let mut bounded = decoder.take(u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1));
    bounded
        .read_to_end(out)
        .map_err(|e| BatchError::Decompress {
            compression,
            reason: e.to_string(),
        })?;
    if out.len() - start > limit {
        return Err(BatchError::DecompressedTooLarge { compression, limit });
    }
    Ok(())
}

/// The xerial framing's header: magic `\x82SNAPPY\0`, then two big-endian `i32` versions.
const XERIAL_MAGIC: &[u8; 8] = b"\x82SNAPPY\0";
const XERIAL_HEADER_BYTES: usize = 16;
/// Snappy's densest element, a 3-byte copy of 64 bytes, expands less than 22 times; a raw
/// block claiming more than this many bytes per input byte is corrupt, and refusing it spares
/// allocating the claimed size.
const SNAPPY_MAX_EXPANSION: usize = 22;

/// Raw snappy, or the xerial framing when `input` starts with its magic (as the Java client
/// tells the two apart).
fn snappy_decompress(input: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), BatchError> {
    let start = out.len();
    if !input.starts_with(XERIAL_MAGIC) {
        return snappy_block(input, limit, start, out);
    }
    let mut rest = input;
    while !rest.is_empty() {
        // A stream may be several xerial streams concatenated, each with its header.
        if rest.starts_with(XERIAL_MAGIC) {
            rest = rest
                .get(XERIAL_HEADER_BYTES..)
                .ok_or_else(|| snappy_error("truncated xerial header".to_owned()))?;
            continue;
        }
        let (length, after) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| snappy_error("truncated xerial block length".to_owned()))?;
        let length = usize::try_from(u32::from_be_bytes(*length)).unwrap_or(usize::MAX);
        let (block, after) = after.split_at_checked(length).ok_or_else(|| {
            snappy_error(format!(
                "xerial block of {length} bytes is truncated to {}",
                after.len()
            ))
        })?;
        snappy_block(block, limit, start, out)?;
        rest = after;
    }
    Ok(())
}

fn snappy_error(reason: String) -> BatchError {
    BatchError::Decompress {
        compression: Compression::Snappy,
        reason,
    }
}

/// Appends one raw snappy block, whose preamble declares its decompressed length. Before
/// anything is allocated the length is checked against `limit`, for everything appended since
/// `start`, and against what `block` could possibly expand to.
fn snappy_block(
    block: &[u8],
    limit: usize,
    start: usize,
    out: &mut Vec<u8>,
) -> Result<(), BatchError> {
    let length = snap::raw::decompress_len(block).map_err(|e| snappy_error(e.to_string()))?;
    if length > limit.saturating_sub(out.len() - start) {
        return Err(BatchError::DecompressedTooLarge {
            compression: Compression::Snappy,
            limit,
        });
    }
    if length > block.len().saturating_mul(SNAPPY_MAX_EXPANSION) {
        return Err(snappy_error(format!(
            "a block of {} bytes cannot hold the {length} bytes it declares",
            block.len()
        )));
    }
    let at = out.len();
    out.resize(at + length, 0);
    let target = out.get_mut(at..).unwrap_or_default();
    let written = snap::raw::Decoder::new()
        .decompress(block, target)
        .map_err(|e| snappy_error(e.to_string()))?;
    if written != length {
        return Err(snappy_error(format!(
            "a block declares {length} bytes but holds {written}"
        )));
    }
    Ok(())
}

/// One or more LZ4 frames back to back. `lz4::Decoder` reads one frame and reports a frame cut
/// short only through `finish`, so each frame is finished explicitly.
fn lz4_decompress(input: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), BatchError> {
    let compression = Compression::Lz4;
    let fail = |e: std::io::Error| BatchError::Decompress {
        compression,
        reason: e.to_string(),
    };
    let start = out.len();
    let mut rest = input;
    loop {
        let room = limit.saturating_sub(out.len() - start);
        let mut decoder = lz4::Decoder::new(rest).map_err(fail)?;
        read_bounded(&mut decoder, compression, room, out).map_err(|e| match e {
            BatchError::DecompressedTooLarge { compression, .. } => {
                BatchError::DecompressedTooLarge { compression, limit }
            }
            other => other,
        })?;
        let (after, finished) = decoder.finish();
        finished.map_err(|_| BatchError::Decompress {
            compression,
            reason: "lz4 frame is truncated".to_owned(),
        })?;
        if after.is_empty() {
            return Ok(());
        }
        if after.len() == rest.len() {
            // Nothing consumed: cannot happen for a finished frame, but never loop forever.
            return Err(BatchError::Decompress {
                compression,
                reason: "lz4 frame made no progress".to_owned(),
            });
        }
        rest = after;
    }
}

/// Appends `input` compressed with `compression` to `out`, at each codec's default level,
/// as one stream (one gzip member, one raw snappy block, one lz4 frame, one zstd frame).
///
/// # Errors
/// [`BatchError::Compress`] if the codec fails (for snappy, an input too large for one block).
pub(crate) fn compress(
    compression: Compression,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), BatchError> {
    let fail = |reason: String| BatchError::Compress {
        compression,
        reason,
    };
    match compression {
        Compression::None => {
            out.extend_from_slice(input);
            Ok(())
        }
        Compression::Gzip => {
            let mut encoder = flate2::write::GzEncoder::new(out, flate2::Compression::default());
            encoder
                .write_all(input)
                .and_then(|()| encoder.try_finish())
                .map_err(|e| fail(e.to_string()))
        }
        Compression::Snappy => {
            let start = out.len();
            let bound = snap::raw::max_compress_len(input.len());
            if bound == 0 && !input.is_empty() {
                return Err(fail("input is too large for a snappy block".to_owned()));
            }
            out.resize(start + bound, 0);
            let target = out.get_mut(start..).unwrap_or_default();
            let written = snap::raw::Encoder::new()
                .compress(input, target)
                .map_err(|e| fail(e.to_string()))?;
            out.truncate(start + written);
            Ok(())
        }
        Compression::Lz4 => {
            // What Kafka's Java producer writes, and so what every consumer reads: 64 KiB
            // independent blocks, no block or content checksum (the batch CRC covers them).
            let mut encoder = lz4::EncoderBuilder::new()
                .block_size(lz4::BlockSize::Max64KB)
                .block_mode(lz4::BlockMode::Independent)
                .block_checksum(lz4::liblz4::BlockChecksum::NoBlockChecksum)
                .checksum(lz4::ContentChecksum::NoChecksum)
                .build(out)
                .map_err(|e| fail(e.to_string()))?;
            encoder.write_all(input).map_err(|e| fail(e.to_string()))?;
            encoder.finish().1.map_err(|e| fail(e.to_string()))
        }
        Compression::Zstd => {
            zstd::stream::copy_encode(input, out, 0).map_err(|e| fail(e.to_string()))
        }
    }
}

#[cfg(test)]
#[path = "compression_tests.rs"]
mod tests;
