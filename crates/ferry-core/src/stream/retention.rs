//! Retention: which whole segments of a partition a stream no longer keeps.
//!
//! The rule, as in Kafka: only closed segments are ever removed, always the oldest first, and
//! removal stops at the first segment that must stay, so a partition stays one unbroken run
//! of offsets from its start. A closed segment may go when
//! - **time:** every record in it is older than `retention_ms` (its largest timestamp plus
//!   `retention_ms` is at or before now; an empty segment holds nothing to keep), or
//! - **bytes:** the partition without it would still hold at least `retention_bytes`.
//!
//! Only streams whose `cleanup` deletes apply retention; a compact-only stream keeps
//! everything that compaction keeps.

use super::config::StreamConfig;
use crate::Timestamp;

/// What retention needs to know about one segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentExtent {
    /// Its first offset (its file name).
    pub base_offset: u64,
    /// The offset after its last one.
    pub next_offset: u64,
    /// Its size on disk.
    pub bytes: u64,
    /// Its largest record timestamp; `None` if it holds no records.
    pub max_timestamp: Option<Timestamp>,
    /// Whether appends go to it (it is never removed).
    pub is_active: bool,
}

/// The offset below which every segment can be removed, or `None` if none can. `segments`
/// are the partition's segments, oldest first.
pub fn retention_cutoff(
    segments: &[SegmentExtent],
    config: &StreamConfig,
    now: Timestamp,
) -> Option<u64> {
    if !config.cleanup.deletes() {
        return None;
    }
    let mut excess_bytes = config.retention_bytes.map(|limit| {
        segments
            .iter()
            .map(|s| s.bytes)
            .sum::<u64>()
            .saturating_sub(limit)
    });
    let mut cutoff = None;
    for segment in segments.iter().take_while(|s| !s.is_active) {
        let expired = config.retention_ms.is_some_and(|ms| {
            segment
                .max_timestamp
                .is_none_or(|max| max.as_millis().saturating_add(ms) <= now.as_millis())
        });
        let oversize = excess_bytes.is_some_and(|excess| excess >= segment.bytes);
        if !(expired || oversize) {
            break;
        }
        if let Some(excess) = excess_bytes.as_mut() {
            *excess = excess.saturating_sub(segment.bytes);
        }
        cutoff = Some(segment.next_offset);
    }
    cutoff
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::config::Cleanup;

    fn segment(base: u64, next: u64, bytes: u64, max_ts: Option<u64>) -> SegmentExtent {
        SegmentExtent {
            base_offset: base,
            next_offset: next,
            bytes,
            max_timestamp: max_ts.map(Timestamp),
            is_active: false,
        }
    }

    fn three_segments() -> Vec<SegmentExtent> {
        let mut active = segment(200, 250, 500, Some(3_000));
        active.is_active = true;
        vec![
            segment(0, 100, 1_000, Some(1_000)),
            segment(100, 200, 1_000, Some(2_000)),
            active,
        ]
    }

    fn config(retention_ms: Option<u64>, retention_bytes: Option<u64>) -> StreamConfig {
        StreamConfig {
            retention_ms,
            retention_bytes,
            ..StreamConfig::default()
        }
    }

    // docs/streams.md#retention
    #[test]
    fn time_retention_removes_the_expired_prefix_only() {
        let segments = three_segments();
        let c = config(Some(500), None);
        assert_eq!(retention_cutoff(&segments, &c, Timestamp(1_499)), None);
        assert_eq!(retention_cutoff(&segments, &c, Timestamp(1_500)), Some(100));
        assert_eq!(retention_cutoff(&segments, &c, Timestamp(2_500)), Some(200));
        // The active segment stays, however old.
        assert_eq!(
            retention_cutoff(&segments, &c, Timestamp(99_999)),
            Some(200)
        );
    }

    #[test]
    fn a_young_segment_shields_older_ones_behind_it() {
        // Producer timestamps need not grow: the second segment is the old one.
        let mut segments = three_segments();
        segments.swap(0, 1);
        let c = config(Some(500), None);
        assert_eq!(retention_cutoff(&segments, &c, Timestamp(1_600)), None);
    }

    #[test]
    fn byte_retention_keeps_at_least_the_limit() {
        let segments = three_segments(); // 2,500 bytes in all
        assert_eq!(
            retention_cutoff(&segments, &config(None, Some(2_500)), Timestamp(0)),
            None
        );
        assert_eq!(
            retention_cutoff(&segments, &config(None, Some(1_501)), Timestamp(0)),
            None
        );
        assert_eq!(
            retention_cutoff(&segments, &config(None, Some(1_500)), Timestamp(0)),
            Some(100)
        );
        assert_eq!(
            retention_cutoff(&segments, &config(None, Some(0)), Timestamp(0)),
            Some(200)
        );
    }

    #[test]
    fn empty_closed_segments_expire_and_compact_only_streams_keep_all() {
        let segments = vec![segment(0, 100, 0, None), three_segments()[2]];
        assert_eq!(
            retention_cutoff(&segments, &config(Some(1), None), Timestamp(0)),
            Some(100)
        );
        let compact = StreamConfig {
            cleanup: Cleanup::Compact,
            ..config(Some(1), Some(0))
        };
        assert_eq!(
            retention_cutoff(&three_segments(), &compact, Timestamp(9_999)),
            None
        );
        assert_eq!(
            retention_cutoff(&three_segments(), &config(None, None), Timestamp(9_999)),
            None
        );
    }
}
