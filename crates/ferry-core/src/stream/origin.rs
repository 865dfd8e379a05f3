//! Batches a queue's resequencer releases into a stream carry where they came from, so that a
//! hand-over repeated after a crash is recognised and not stored twice.
//!
//! The mark lives in the batch header's producer fields: the producer id is the releasing
//! queue's origin id (never negative) and the epoch and base sequence hold the batch's last
//! release number, the epoch always −2 or less. No Kafka producer can store such a batch (an
//! idempotent batch with a negative epoch is refused), so a header with a non-negative id and
//! an epoch of −2 or less is always one of these, and a partition rebuilds each origin's
//! last release from its headers after a restart.

use super::batch::{BatchError, BatchHeader, set_producer_fields};

/// Highest release number a mark can carry (32 767 · 2³² − 1: over 4 years at a million
/// releases a second).
pub const MAX_RELEASE: u64 = (32_767 << 32) - 1;

/// Marks a batch (already encoded) as `origin`'s releases up to `release`.
///
/// # Errors
/// What the header check finds wrong, or [`BatchError::OriginOutOfRange`] for a negative
/// origin or a release past [`MAX_RELEASE`].
pub fn mark_origin(batch: &mut [u8], origin: i64, release: u64) -> Result<(), BatchError> {
    let out_of_range = BatchError::OriginOutOfRange { origin, release };
    if origin < 0 || release > MAX_RELEASE {
        return Err(out_of_range);
    }
    let high = i16::try_from(release >> 32).map_err(|_| out_of_range)?;
    let epoch = -2 - high;
    let sequence = (release & 0xffff_ffff) as u32 as i32;
    set_producer_fields(batch, origin, epoch, sequence)
}

/// The origin and last release a batch header carries, if it is a released batch.
pub fn origin_of(header: &BatchHeader) -> Option<(i64, u64)> {
    if header.producer_id < 0 || header.producer_epoch > -2 {
        return None;
    }
    let high = u64::try_from(-2 - i32::from(header.producer_epoch)).ok()?;
    let low = u64::from(header.base_sequence as u32);
    Some((header.producer_id, high << 32 | low))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::{StreamRecord, check_batch, decode_header, encode_batch};

    #[test]
    fn marks_round_trip_and_keep_the_batch_valid() {
        let record = StreamRecord {
            timestamp_ms: 5,
            key: Some(b"k".to_vec()),
            value: Some(b"v".to_vec()),
            headers: Vec::new(),
        };
        for release in [1, 0xffff_ffff, 1 << 32, (1 << 40) + 7, MAX_RELEASE] {
            let mut batch = Vec::new();
            encode_batch(0, std::slice::from_ref(&record), &mut batch)
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(decode_header(&batch).ok().and_then(|h| origin_of(&h)), None);
            mark_origin(&mut batch, 77, release).unwrap_or_else(|e| panic!("{e}"));
            assert!(check_batch(&batch).is_ok(), "the CRC was rewritten");
            let header = decode_header(&batch).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(origin_of(&header), Some((77, release)));
        }
        let mut batch = Vec::new();
        encode_batch(0, &[record], &mut batch).unwrap_or_else(|e| panic!("{e}"));
        assert!(mark_origin(&mut batch, 1, MAX_RELEASE + 1).is_err());
        assert!(mark_origin(&mut batch, -1, 1).is_err());
    }
}
