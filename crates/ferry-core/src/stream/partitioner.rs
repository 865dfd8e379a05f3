//! Which partition a keyed record goes to, exactly as Kafka's Java client picks it, so that a
//! key lands on the same partition whether it is produced through Ferry's API or a Kafka
//! client.

/// Kafka's seed for murmur2.
const SEED: u32 = 0x9747_b28c;
/// MurmurHash2's multiplier and shift.
const M: u32 = 0x5bd1_e995;
const R: u32 = 24;

/// MurmurHash2 (32-bit) of `data` with Kafka's seed, bit for bit what the Java client's
/// `Utils.murmur2` returns (read its `int` as `u32`).
///
/// Four-byte blocks are read little-endian, the tail bytes are mixed in the same way, and
/// all arithmetic wraps.
pub fn murmur2(data: &[u8]) -> u32 {
    // The length is mixed in as Java's `int`: truncation past 4 GiB matches it.
    let mut h = SEED ^ data.len() as u32;
    let mut blocks = data.chunks_exact(4);
    for block in &mut blocks {
        let mut k = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, &byte) in tail.iter().enumerate() {
            h ^= u32::from(byte) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h
}

/// The partition of `partitions` a record with `key` belongs to: Kafka's default
/// partitioner for keyed records, `(murmur2(key) & 0x7fffffff) % partitions`.
///
/// `partitions` is at least 1 in any valid [`StreamConfig`](super::StreamConfig); 0 is
/// treated as 1 rather than dividing by zero.
pub fn partition_for_key(key: &[u8], partitions: u32) -> u32 {
    (murmur2(key) & 0x7fff_ffff) % partitions.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values of the Java client's `Utils.murmur2`, as published in its own unit tests and in
    /// librdkafka's (as the bits of a Java `int`).
    const KNOWN: &[(&[u8], u32)] = &[
        (b"", 0x106e_08d9),
        (b"kafka", 0xd067_cf64),
        (b"giberish123456789", 0x8f55_2b0c),
        (b"1234", 0x9fc9_7b14),
        (b"234", 0xe7c0_09ca),
        (b"34", 0x8739_30da),
        (b"4", 0x5a4b_5ca1),
        (b"PreAmbleWillBeRemoved,ThePrePartThatIs", 0x7842_4f1c),
        (b"reAmbleWillBeRemoved,ThePrePartThatIs", 0x4a62_b377),
        (b"eAmbleWillBeRemoved,ThePrePartThatIs", 0xe0e4_e09e),
        (b"AmbleWillBeRemoved,ThePrePartThatIs", 0x62b8_b43f),
        (b"21", -973_932_308i32 as u32),
        (b"foobar", -790_332_482i32 as u32),
        (b"a-little-bit-long-string", -985_981_536i32 as u32),
        (b"a-little-bit-longer-string", -1_486_304_829i32 as u32),
        (
            b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
            -58_897_971i32 as u32,
        ),
        (b"abc", 479_470_107),
        (b"1", -1_993_445_489i32 as u32),
        (b"12", 126_087_238),
        (b"123", -267_702_483i32 as u32),
        (b"12345", -1_188_365_604i32 as u32),
    ];

    #[test]
    fn murmur2_matches_the_java_client() {
        for (key, want) in KNOWN {
            assert_eq!(murmur2(key), *want, "{:?}", String::from_utf8_lossy(key));
        }
    }

    #[test]
    fn the_empty_key_is_the_finalised_seed() {
        // Worked by hand from the definition: no blocks, no tail, only the final mix.
        let mut h = SEED;
        h ^= h >> 13;
        h = h.wrapping_mul(M);
        h ^= h >> 15;
        assert_eq!(murmur2(b""), h);
    }

    #[test]
    fn partitions_follow_the_positive_hash() {
        // 0xd067cf64 & 0x7fffffff = 1348980580.
        assert_eq!(partition_for_key(b"kafka", 10), 1_348_980_580 % 10);
        assert_eq!(partition_for_key(b"kafka", 12), 1_348_980_580 % 12);
        assert_eq!(partition_for_key(b"kafka", 1), 0);
        assert_eq!(partition_for_key(b"kafka", 0), 0);
        for (key, hash) in KNOWN {
            for partitions in [1, 3, 7, 64, 1024] {
                let p = partition_for_key(key, partitions);
                assert!(p < partitions);
                assert_eq!(p, (hash & 0x7fff_ffff) % partitions);
            }
        }
    }
}
