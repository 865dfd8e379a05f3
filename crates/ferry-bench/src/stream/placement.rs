//! Where the server put every appended record, from the append replies: what the read phase
//! checks each record against.
//!
//! A batch normally lands in one partition at consecutive offsets, so the placements are kept
//! as *runs* (offset, record number, length), one per batch, rather than one entry per record:
//! a million records take a thousand runs. Any other placement still works, in more runs.

use ferry_client::api::AppendedRecord;

/// Consecutive offsets of one partition holding consecutively numbered records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Run {
    /// The first offset.
    pub(crate) offset: u64,
    /// The number of the record at that offset.
    pub(crate) record: u64,
    /// How many offsets (and records).
    pub(crate) len: u64,
}

impl Run {
    /// One past the last offset.
    fn end(&self) -> u64 {
        self.offset.saturating_add(self.len)
    }
}

/// The runs booked so far, in booking order.
#[derive(Clone, Debug, Default)]
pub(crate) struct Placements {
    runs: Vec<(u32, Run)>,
}

impl Placements {
    /// Books the reply to an append of records numbered `first`, `first + 1` …, one entry per
    /// record in the batch's order.
    pub(crate) fn book(&mut self, first: u64, replies: &[AppendedRecord]) {
        for (record, placed) in (first..).zip(replies) {
            match self.runs.last_mut() {
                Some((partition, run))
                    if *partition == placed.partition
                        && run.end() == placed.offset
                        && run.record.saturating_add(run.len) == record =>
                {
                    run.len += 1;
                }
                _ => self.runs.push((
                    placed.partition,
                    Run {
                        offset: placed.offset,
                        record,
                        len: 1,
                    },
                )),
            }
        }
    }

    /// Adds another producer's runs.
    pub(crate) fn extend(&mut self, other: Placements) {
        self.runs.extend(other.runs);
    }

    /// The runs of each of `partitions` partitions, sorted by offset. Runs of a partition the
    /// stream does not have count as [`Layout::stray`].
    pub(crate) fn into_layout(self, partitions: u32) -> Layout {
        let count = usize::try_from(partitions).unwrap_or(usize::MAX);
        let mut runs: Vec<Vec<Run>> = vec![Vec::new(); count];
        let mut stray = 0;
        for (partition, run) in self.runs {
            match usize::try_from(partition)
                .ok()
                .and_then(|p| runs.get_mut(p))
            {
                Some(of_partition) => of_partition.push(run),
                None => stray += run.len,
            }
        }
        let partitions = runs.into_iter().map(PartitionLayout::new).collect();
        Layout { partitions, stray }
    }
}

/// The placements of every partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    /// By partition number.
    pub(crate) partitions: Vec<PartitionLayout>,
    /// Records the replies put in a partition the stream does not have.
    pub(crate) stray: u64,
}

impl Layout {
    /// Offsets given to more than one record, over all partitions.
    pub(crate) fn reused(&self) -> u64 {
        self.partitions.iter().map(|p| p.reused).sum()
    }

    /// Distinct offsets given to records, over all partitions: what the read phase must find.
    pub(crate) fn placed(&self) -> u64 {
        self.partitions.iter().map(|p| p.placed).sum()
    }
}

/// The placements of one partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PartitionLayout {
    /// Sorted by offset, without overlaps (a reused offset stays with its first run).
    runs: Vec<Run>,
    /// One past the highest offset placed: where the partition should end.
    pub(crate) end: u64,
    /// Distinct offsets placed.
    pub(crate) placed: u64,
    /// Offsets given to more than one record.
    pub(crate) reused: u64,
}

impl PartitionLayout {
    fn new(mut booked: Vec<Run>) -> PartitionLayout {
        booked.sort_unstable_by_key(|run| (run.offset, run.record));
        let mut runs: Vec<Run> = Vec::with_capacity(booked.len());
        let mut reused = 0;
        for mut run in booked {
            let covered = runs.last().map_or(0, Run::end);
            if run.offset < covered {
                let overlap = (covered - run.offset).min(run.len);
                reused += overlap;
                run = Run {
                    offset: run.offset + overlap,
                    record: run.record + overlap,
                    len: run.len - overlap,
                };
            }
            if run.len > 0 {
                runs.push(run);
            }
        }
        PartitionLayout {
            end: runs.last().map_or(0, Run::end),
            placed: runs.iter().map(|run| run.len).sum(),
            runs,
            reused,
        }
    }

    /// A cursor for looking up offsets from `offset` upwards.
    pub(crate) fn cursor(&self, offset: u64) -> Cursor<'_> {
        let next = self.runs.partition_point(|run| run.end() <= offset);
        Cursor {
            runs: self.runs.get(next..).unwrap_or_default(),
        }
    }
}

/// Looks up the record placed at each of a rising sequence of offsets.
#[derive(Clone, Debug)]
pub(crate) struct Cursor<'a> {
    /// The runs not yet passed.
    runs: &'a [Run],
}

impl Cursor<'_> {
    /// The number of the record placed at `offset`, `None` if no append put one there.
    /// Offsets must not go down between calls.
    pub(crate) fn record_at(&mut self, offset: u64) -> Option<u64> {
        while let [run, rest @ ..] = self.runs {
            if offset < run.end() {
                return (offset >= run.offset).then(|| run.record + (offset - run.offset));
            }
            self.runs = rest;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placed(partition: u32, offsets: std::ops::Range<u64>) -> Vec<AppendedRecord> {
        offsets
            .map(|offset| AppendedRecord { partition, offset })
            .collect()
    }

    fn records(layout: &PartitionLayout) -> Vec<Option<u64>> {
        let mut cursor = layout.cursor(0);
        (0..layout.end + 1).map(|o| cursor.record_at(o)).collect()
    }

    #[test]
    fn batches_out_of_order_make_one_run_each_and_tile_the_partition() {
        let mut p = Placements::default();
        // Batch 1 (records 3..6) was answered before batch 0 (records 0..3).
        p.book(3, &placed(0, 0..3));
        p.book(0, &placed(0, 3..6));
        assert_eq!(p.runs.len(), 2);
        let layout = p.into_layout(1);
        let only = &layout.partitions[0];
        assert_eq!((only.end, only.placed, only.reused), (6, 6, 0));
        assert_eq!(
            records(only),
            vec![Some(3), Some(4), Some(5), Some(0), Some(1), Some(2), None]
        );
    }

    #[test]
    fn consecutive_batches_merge_and_partitions_stay_apart() {
        let mut p = Placements::default();
        p.book(0, &placed(0, 0..2));
        p.book(2, &placed(0, 2..4));
        p.book(4, &placed(1, 0..2));
        assert_eq!(p.runs.len(), 2, "{:?}", p.runs);
        let layout = p.into_layout(2);
        assert_eq!(layout.placed(), 6);
        assert_eq!(records(&layout.partitions[1]), vec![Some(4), Some(5), None]);
    }

    #[test]
    fn scattered_replies_still_map_every_record() {
        let mut p = Placements::default();
        let replies = [
            AppendedRecord {
                partition: 1,
                offset: 0,
            },
            AppendedRecord {
                partition: 0,
                offset: 0,
            },
            AppendedRecord {
                partition: 1,
                offset: 1,
            },
        ];
        p.book(10, &replies);
        let layout = p.into_layout(2);
        assert_eq!(records(&layout.partitions[0]), vec![Some(11), None]);
        assert_eq!(
            records(&layout.partitions[1]),
            vec![Some(10), Some(12), None]
        );
        assert_eq!(layout.placed(), 3);
    }

    #[test]
    fn reused_offsets_holes_and_stray_partitions_are_counted() {
        let mut p = Placements::default();
        p.book(0, &placed(0, 0..3));
        p.book(3, &placed(0, 2..4));
        p.book(5, &placed(0, 6..7));
        p.book(6, &placed(7, 0..2));
        let layout = p.into_layout(1);
        let only = &layout.partitions[0];
        assert_eq!((only.end, only.placed, only.reused), (7, 5, 1));
        assert_eq!(layout.stray, 2);
        assert_eq!(
            records(only),
            vec![
                Some(0),
                Some(1),
                Some(2),
                Some(4),
                None,
                None,
                Some(5),
                None
            ]
        );
    }

    #[test]
    fn a_cursor_may_start_inside_a_run() {
        let mut p = Placements::default();
        p.book(100, &placed(0, 0..10));
        p.book(0, &placed(0, 10..20));
        let layout = p.into_layout(1);
        let mut cursor = layout.partitions[0].cursor(15);
        assert_eq!(cursor.record_at(15), Some(5));
        assert_eq!(cursor.record_at(19), Some(9));
        assert_eq!(cursor.record_at(20), None);
        assert_eq!(layout.partitions[0].cursor(25).record_at(25), None);
    }
}
