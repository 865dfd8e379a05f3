//! The header every bench message body starts with: who sent it, its number, and when.
//!
//! Layout, all little-endian, [`HEADER_BYTES`] in total, then zero padding up to `--size`:
//!
//! | bytes | field |
//! | --- | --- |
//! | 0..4 | magic `FRB1` (refuses bodies this run did not write) |
//! | 4..8 | producer id (`u32`) |
//! | 8..16 | sequence number within that producer (`u64`) |
//! | 16..24 | send time, nanoseconds since the run's origin (`u64`) |
//!
//! Producers and consumers live in one process, so the time is read from one monotonic clock
//! and needs no synchronisation.

use std::time::Duration;

/// The first four bytes of every body, so that stray messages are told apart.
const MAGIC: [u8; 4] = *b"FRB1";

/// Size of the header; `--size` may not be smaller.
pub(crate) const HEADER_BYTES: usize = 24;

/// What a body says about itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    /// Which producer sent it (0-based).
    pub(crate) producer: u32,
    /// Its number within that producer, from 0 without gaps.
    pub(crate) seq: u64,
    /// When it was sent (or, at a fixed rate, when it was due), since the run's origin.
    pub(crate) sent_at: Duration,
}

/// Why a body was not one of ours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Malformed {
    /// Shorter than the header.
    Short,
    /// Does not start with the magic bytes.
    Magic,
}

impl Header {
    /// The body of `size_bytes` (at least [`HEADER_BYTES`]) that carries this header.
    pub(crate) fn encode(&self, size_bytes: usize) -> Vec<u8> {
        debug_assert!(
            size_bytes >= HEADER_BYTES,
            "size {size_bytes} below the header"
        );
        let nanos = u64::try_from(self.sent_at.as_nanos()).unwrap_or(u64::MAX);
        let mut body = Vec::with_capacity(size_bytes.max(HEADER_BYTES));
        body.extend_from_slice(&MAGIC);
        body.extend_from_slice(&self.producer.to_le_bytes());
        body.extend_from_slice(&self.seq.to_le_bytes());
        body.extend_from_slice(&nanos.to_le_bytes());
        body.resize(size_bytes.max(HEADER_BYTES), 0);
        body
    }

    /// Reads the header at the start of `body`; the padding after it is not looked at.
    pub(crate) fn decode(body: &[u8]) -> Result<Header, Malformed> {
        let header: &[u8; HEADER_BYTES] = body
            .get(..HEADER_BYTES)
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(Malformed::Short)?;
        let [
            m0,
            m1,
            m2,
            m3,
            p0,
            p1,
            p2,
            p3,
            s0,
            s1,
            s2,
            s3,
            s4,
            s5,
            s6,
            s7,
            t0,
            t1,
            t2,
            t3,
            t4,
            t5,
            t6,
            t7,
        ] = *header;
        if [m0, m1, m2, m3] != MAGIC {
            return Err(Malformed::Magic);
        }
        Ok(Header {
            producer: u32::from_le_bytes([p0, p1, p2, p3]),
            seq: u64::from_le_bytes([s0, s1, s2, s3, s4, s5, s6, s7]),
            sent_at: Duration::from_nanos(u64::from_le_bytes([t0, t1, t2, t3, t4, t5, t6, t7])),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_round_trips_at_the_requested_size() {
        let header = Header {
            producer: 7,
            seq: 123_456_789_012,
            sent_at: Duration::from_nanos(987_654_321),
        };
        for size in [HEADER_BYTES, 100, 4096] {
            let body = header.encode(size);
            assert_eq!(body.len(), size);
            assert_eq!(Header::decode(&body), Ok(header));
            assert!(
                body.iter().skip(HEADER_BYTES).all(|&b| b == 0),
                "padding is zeros"
            );
        }
    }

    #[test]
    fn the_layout_is_little_endian_and_fixed() {
        let body = Header {
            producer: 1,
            seq: 2,
            sent_at: Duration::from_nanos(3),
        }
        .encode(HEADER_BYTES);
        let mut expected = b"FRB1".to_vec();
        expected.extend([1, 0, 0, 0]);
        expected.extend([2, 0, 0, 0, 0, 0, 0, 0]);
        expected.extend([3, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(body, expected);
    }

    #[test]
    fn foreign_bodies_are_refused() {
        assert_eq!(Header::decode(b""), Err(Malformed::Short));
        assert_eq!(
            Header::decode(&[0; HEADER_BYTES - 1]),
            Err(Malformed::Short)
        );
        assert_eq!(Header::decode(&[0; HEADER_BYTES]), Err(Malformed::Magic));
        let mut body = Header {
            producer: 0,
            seq: 0,
            sent_at: Duration::ZERO,
        }
        .encode(64);
        body[0] = b'X';
        assert_eq!(Header::decode(&body), Err(Malformed::Magic));
    }

    #[test]
    fn an_oversized_time_saturates_instead_of_wrapping() {
        let header = Header {
            producer: 0,
            seq: 0,
            sent_at: Duration::from_secs(u64::MAX),
        };
        let back = Header::decode(&header.encode(HEADER_BYTES)).map(|h| h.sent_at);
        assert_eq!(back, Ok(Duration::from_nanos(u64::MAX)));
    }
}
