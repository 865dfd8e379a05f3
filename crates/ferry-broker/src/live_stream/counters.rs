//! What a stream counts as it goes, for `/metrics`: appended batches and compaction runs.
//! Appends run on their callers' tasks, so these are relaxed atomics (one `fetch_add` per
//! batch), read at scrape time.

use crate::metrics::StreamEvents;
use crate::stream_types::CompactionOutcome;
use std::sync::atomic::{AtomicU64, Ordering};

/// The counters of one stream, since it was opened.
#[derive(Debug, Default)]
pub(crate) struct StreamCounters {
    appended_batches: AtomicU64,
    compaction_runs: AtomicU64,
    compaction_rewritten_segments: AtomicU64,
    compaction_removed_records: AtomicU64,
}

impl StreamCounters {
    /// Counts `count` batches appended.
    pub(crate) fn on_batches(&self, count: u64) {
        self.appended_batches.fetch_add(count, Ordering::Relaxed);
    }

    /// Counts one finished compaction run and what it did.
    pub(crate) fn on_compaction(&self, outcome: &CompactionOutcome) {
        self.compaction_runs.fetch_add(1, Ordering::Relaxed);
        self.compaction_rewritten_segments
            .fetch_add(u64::from(outcome.segments_rewritten), Ordering::Relaxed);
        self.compaction_removed_records
            .fetch_add(outcome.records_removed, Ordering::Relaxed);
    }

    /// The counts now.
    pub(crate) fn read(&self) -> StreamEvents {
        StreamEvents {
            appended_batches: self.appended_batches.load(Ordering::Relaxed),
            compaction_runs: self.compaction_runs.load(Ordering::Relaxed),
            compaction_rewritten_segments: self
                .compaction_rewritten_segments
                .load(Ordering::Relaxed),
            compaction_removed_records: self.compaction_removed_records.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_batches_and_compaction_runs() {
        let c = StreamCounters::default();
        c.on_batches(2);
        c.on_batches(1);
        c.on_compaction(&CompactionOutcome {
            segments_rewritten: 1,
            records_removed: 40,
        });
        c.on_compaction(&CompactionOutcome::default());
        assert_eq!(
            c.read(),
            StreamEvents {
                appended_batches: 3,
                compaction_runs: 2,
                compaction_rewritten_segments: 1,
                compaction_removed_records: 40,
            }
        );
    }
}
