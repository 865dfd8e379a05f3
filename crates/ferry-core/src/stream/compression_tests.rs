//! Tests of the codecs on their own: numbering, the decompression bound, the two snappy
//! framings, concatenated streams, and truncated or corrupt input.

#![allow(clippy::indexing_slicing)]

use super::*;

const CODECS: [Compression; 4] = [
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

fn ok<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

fn compressed(compression: Compression, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    ok(compress(compression, data, &mut out));
    out
}

fn decompressed(
    compression: Compression,
    input: &[u8],
    limit: usize,
) -> Result<Vec<u8>, BatchError> {
    let mut out = Vec::new();
    decompress(compression, input, limit, &mut out).map(|()| out)
}

/// Text that compresses, but not to nothing.
fn sample(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| b"ferry carries records "[i % 22] ^ (i / 997) as u8)
        .collect()
}

/// The xerial framing the Java client writes, built by hand: header, then each block of at
/// most `block_bytes` input bytes compressed raw behind its big-endian length.
fn xerial(data: &[u8], block_bytes: usize) -> Vec<u8> {
    let mut out = b"\x82SNAPPY\0".to_vec();
    out.extend_from_slice(&1i32.to_be_bytes());
    out.extend_from_slice(&1i32.to_be_bytes());
    for chunk in data.chunks(block_bytes) {
        let block = ok(snap::raw::Encoder::new().compress_vec(chunk));
        out.extend_from_slice(&(block.len() as u32).to_be_bytes());
        out.extend_from_slice(&block);
    }
    out
}

#[test]
fn codec_numbers_and_names_are_kafkas() {
    for (codec, name) in [
        (0, "none"),
        (1, "gzip"),
        (2, "snappy"),
        (3, "lz4"),
        (4, "zstd"),
    ] {
        let compression = Compression::from_codec(codec).unwrap_or_else(|| panic!("{codec}"));
        assert_eq!(compression.codec(), codec);
        assert_eq!(
            (compression.name(), compression.to_string()),
            (name, name.to_owned())
        );
    }
    for codec in 5..=u8::MAX {
        assert_eq!(Compression::from_codec(codec), None);
    }
    assert_eq!(Compression::default(), Compression::None);
}

#[test]
fn every_codec_round_trips_and_empty_input_too() {
    for compression in Compression::ALL {
        for data in [Vec::new(), b"x".to_vec(), sample(200_000)] {
            let packed = compressed(compression, &data);
            assert_eq!(
                ok(decompressed(compression, &packed, data.len())),
                data,
                "{compression}"
            );
        }
    }
}

#[test]
fn the_bound_admits_exactly_limit_bytes() {
    let data = sample(10_000);
    for compression in Compression::ALL {
        let packed = compressed(compression, &data);
        assert_eq!(ok(decompressed(compression, &packed, data.len())), data);
        assert_eq!(
            decompressed(compression, &packed, data.len() - 1),
            Err(BatchError::DecompressedTooLarge {
                compression,
                limit: data.len() - 1
            }),
            "{compression}"
        );
    }
    // The bound holds across xerial blocks, and across concatenated lz4 frames.
    let framed = xerial(&data, 1_000);
    assert_eq!(ok(decompressed(Compression::Snappy, &framed, 10_000)), data);
    assert!(matches!(
        decompressed(Compression::Snappy, &framed, 9_999),
        Err(BatchError::DecompressedTooLarge { limit: 9_999, .. })
    ));
    let mut two_frames = compressed(Compression::Lz4, &data);
    two_frames.extend_from_slice(&compressed(Compression::Lz4, &data));
    assert_eq!(
        decompressed(Compression::Lz4, &two_frames, 19_999),
        Err(BatchError::DecompressedTooLarge {
            compression: Compression::Lz4,
            limit: 19_999
        })
    );
}

#[test]
fn the_bound_is_the_largest_record() {
    assert_eq!(MAX_DECOMPRESSED_BYTES, 64 * 1024 * 1024 - 1024);
    assert_eq!(MAX_DECOMPRESSED_BYTES, MAX_MAX_RECORD_BYTES as usize);
}

#[test]
fn xerial_snappy_is_read_block_by_block_and_concatenated() {
    let data = sample(100_000);
    let framed = xerial(&data, 32 * 1024);
    assert_eq!(
        ok(decompressed(Compression::Snappy, &framed, usize::MAX)),
        data
    );
    // Two xerial streams back to back, as the Java client's stream may concatenate them.
    let mut twice = framed.clone();
    twice.extend_from_slice(&xerial(b"tail", 32 * 1024));
    let mut expected = data.clone();
    expected.extend_from_slice(b"tail");
    assert_eq!(
        ok(decompressed(Compression::Snappy, &twice, usize::MAX)),
        expected
    );
    // A header and no blocks is an empty stream.
    assert_eq!(ok(decompressed(Compression::Snappy, &framed[..16], 0)), b"");
    // Cut anywhere past the header, the framing fails cleanly.
    for cut in [8, 15, 17, 19, 20, 21, 100, framed.len() - 1] {
        let err = decompressed(Compression::Snappy, &framed[..cut], usize::MAX);
        assert!(
            matches!(
                err,
                Err(BatchError::Decompress {
                    compression: Compression::Snappy,
                    ..
                })
            ),
            "cut at {cut}: {err:?}"
        );
    }
    let mut huge_block = framed[..16].to_vec();
    huge_block.extend_from_slice(&u32::MAX.to_be_bytes());
    assert!(decompressed(Compression::Snappy, &huge_block, usize::MAX).is_err());
}

#[test]
fn a_snappy_block_claiming_more_than_it_can_hold_is_refused_before_allocating() {
    // A preamble declaring 60 MiB, then nothing.
    let mut claim = Vec::new();
    let mut length = 60u64 << 20;
    while length >= 0x80 {
        claim.push((length as u8) | 0x80);
        length >>= 7;
    }
    claim.push(length as u8);
    let err = decompressed(Compression::Snappy, &claim, MAX_DECOMPRESSED_BYTES);
    match err {
        Err(BatchError::Decompress { reason, .. }) => {
            assert!(reason.contains("cannot hold"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // Past the bound it is the bound that is reported.
    assert_eq!(
        decompressed(Compression::Snappy, &claim, 1 << 20),
        Err(BatchError::DecompressedTooLarge {
            compression: Compression::Snappy,
            limit: 1 << 20
        })
    );
}

#[test]
fn truncated_streams_fail_for_every_codec() {
    let data = sample(50_000);
    for compression in CODECS {
        let packed = compressed(compression, &data);
        for cut in [0, 1, 5, packed.len() / 2, packed.len() - 1] {
            let result = decompressed(compression, &packed[..cut], usize::MAX);
            assert!(
                matches!(&result, Err(BatchError::Decompress { compression: c, .. }) if *c == compression),
                "{compression} cut at {cut} of {}: {:?}",
                packed.len(),
                result.map(|d| d.len())
            );
        }
    }
}

#[test]
fn errors_name_the_codec() {
    let garbage = b"definitely not compressed at all";
    for compression in CODECS {
        let err = decompressed(compression, garbage, usize::MAX);
        let message = match err {
            Err(e) => e.to_string(),
            Ok(out) => panic!("{compression} decoded garbage to {} bytes", out.len()),
        };
        assert!(
            message.starts_with(&format!(
                "record batch does not decompress as {compression}: "
            )),
            "{message}"
        );
    }
    let message = decompressed(Compression::Gzip, garbage, usize::MAX)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        message.contains("gzip") && message.contains("header"),
        "{message}"
    );
}

#[test]
fn concatenated_streams_are_read_whole() {
    for compression in [Compression::Gzip, Compression::Lz4, Compression::Zstd] {
        let mut packed = compressed(compression, b"first ");
        packed.extend_from_slice(&compressed(compression, b"second"));
        assert_eq!(
            ok(decompressed(compression, &packed, usize::MAX)),
            b"first second",
            "{compression}"
        );
        // Garbage after a whole stream is an error, not ignored.
        let mut trailing = compressed(compression, b"first");
        trailing.extend_from_slice(b"junk");
        assert!(
            decompressed(compression, &trailing, usize::MAX).is_err(),
            "{compression}"
        );
    }
}

#[test]
fn lz4_frames_are_written_as_kafka_clients_read_them() {
    let packed = compressed(Compression::Lz4, &sample(1_000));
    assert_eq!(&packed[..4], &[0x04, 0x22, 0x4d, 0x18]); // frame magic
    let flg = packed[4];
    assert_eq!(flg >> 6, 1, "version 01");
    assert_ne!(flg & 0x20, 0, "independent blocks");
    assert_eq!(flg & 0x10, 0, "no block checksum");
    assert_eq!(flg & 0x04, 0, "no content checksum");
    assert_eq!((packed[5] >> 4) & 0x07, 4, "64 KiB blocks");
}
