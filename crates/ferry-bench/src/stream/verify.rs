//! The read phase's check of every record read back against where its append put it, and the
//! verdict of a run.
//!
//! A record is read back *exactly once, in offset order* when its offset comes above the one
//! before it, and its value carries the number of the very record the append reply placed at
//! that offset. Offsets that appends placed but no read returned are lost.

use super::placement::{Cursor, Layout, PartitionLayout};
use super::report::Verification;
use super::value::ValueFormat;

/// What reading some offsets found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Records returned.
    pub(crate) read: u64,
    /// Bytes of their values.
    pub(crate) value_bytes: u64,
    /// Placed offsets that were read (each counted once).
    pub(crate) found: u64,
    /// Records at or below an offset already read: repeats, or out of order.
    pub(crate) duplicated: u64,
    /// Records whose number is not the one placed at their offset, or at an offset no append
    /// placed a record at.
    pub(crate) misplaced: u64,
    /// Values this run did not write.
    pub(crate) malformed: u64,
}

impl Tally {
    /// Adds another tally to this one.
    pub(crate) fn add(&mut self, other: &Tally) {
        self.read += other.read;
        self.value_bytes += other.value_bytes;
        self.found += other.found;
        self.duplicated += other.duplicated;
        self.misplaced += other.misplaced;
        self.malformed += other.malformed;
    }
}

/// Checks the records of one partition as they are read, in rising offsets from a start.
#[derive(Clone, Debug)]
pub(crate) struct Checker<'a> {
    cursor: Cursor<'a>,
    /// The lowest offset the next record may have.
    next: u64,
    /// What every value must look like.
    format: &'a ValueFormat,
    /// What was found so far.
    pub(crate) tally: Tally,
}

impl<'a> Checker<'a> {
    /// A checker of reads of `layout`'s partition starting at offset `from`.
    pub(crate) fn new(layout: &'a PartitionLayout, from: u64, format: &'a ValueFormat) -> Self {
        Checker {
            cursor: layout.cursor(from),
            next: from,
            format,
            tally: Tally::default(),
        }
    }

    /// Checks the next record read: its offset and its value (`None` unless it came as text).
    pub(crate) fn check(&mut self, offset: u64, value: Option<&str>) {
        let tally = &mut self.tally;
        tally.read += 1;
        tally.value_bytes += value.map_or(0, |v| v.len() as u64);
        if offset < self.next {
            tally.duplicated += 1;
            return;
        }
        self.next = offset.saturating_add(1);
        let placed = self.cursor.record_at(offset);
        tally.found += u64::from(placed.is_some());
        match (self.format.read(value), placed) {
            (Err(_), _) => tally.malformed += 1,
            (Ok(number), Some(placed)) if number == placed => {}
            (Ok(_), _) => tally.misplaced += 1,
        }
    }
}

/// The verdict of a run: `appended` records were acknowledged, `layout` says where they went,
/// `tally` is what the reads found, and `unexpected` records lie past the last placed offset
/// of their partitions.
pub(crate) fn verdict(
    appended: u64,
    layout: &Layout,
    tally: &Tally,
    unexpected: u64,
) -> Verification {
    let never_read = layout.placed().saturating_sub(tally.found);
    Verification {
        appended,
        read: tally.read,
        lost: never_read + layout.reused() + layout.stray,
        duplicated: tally.duplicated,
        misplaced: tally.misplaced,
        malformed: tally.malformed,
        unexpected,
    }
}

#[cfg(test)]
mod tests {
    use super::super::placement::Placements;
    use super::*;
    use ferry_client::api::AppendedRecord;

    const SIZE: usize = 24;

    /// Records 0..6 appended in two batches whose replies came in reverse order.
    fn layout() -> Layout {
        let at = |offsets: std::ops::Range<u64>| -> Vec<AppendedRecord> {
            offsets
                .map(|offset| AppendedRecord {
                    partition: 0,
                    offset,
                })
                .collect()
        };
        let mut placements = Placements::default();
        placements.book(3, &at(0..3));
        placements.book(0, &at(3..6));
        placements.into_layout(1)
    }

    fn value(number: u64) -> String {
        let mut value = String::new();
        ValueFormat::new(SIZE).write(number, &mut value);
        value
    }

    fn check(reads: &[(u64, Option<String>)]) -> Verification {
        let layout = layout();
        let format = ValueFormat::new(SIZE);
        let mut checker = Checker::new(&layout.partitions[0], 0, &format);
        for (offset, value) in reads {
            checker.check(*offset, value.as_deref());
        }
        verdict(6, &layout, &checker.tally, 0)
    }

    fn in_order() -> Vec<(u64, Option<String>)> {
        [3, 4, 5, 0, 1, 2]
            .into_iter()
            .zip(0..)
            .map(|(number, offset)| (offset, Some(value(number))))
            .collect()
    }

    #[test]
    fn every_record_once_in_offset_order_is_clean() {
        let v = check(&in_order());
        assert!(v.is_clean(), "{v:?}");
        assert_eq!((v.appended, v.read), (6, 6));
    }

    #[test]
    fn a_missing_record_is_lost() {
        let mut reads = in_order();
        reads.remove(4);
        let v = check(&reads);
        assert_eq!((v.lost, v.read), (1, 5));
        assert!(!v.is_clean());
    }

    #[test]
    fn a_repeated_or_backward_record_is_a_duplicate() {
        let mut reads = in_order();
        reads.insert(3, reads[1].clone());
        let v = check(&reads);
        assert_eq!((v.duplicated, v.lost, v.read), (1, 0, 7));
        assert!(!v.is_clean());
    }

    #[test]
    fn swapped_values_are_misplaced_and_foreign_ones_malformed() {
        let mut reads = in_order();
        reads.swap(0, 1);
        reads[0].0 = 0;
        reads[1].0 = 1;
        reads[5].1 = Some("not ours".to_owned());
        let v = check(&reads);
        assert_eq!((v.misplaced, v.malformed, v.lost), (2, 1, 0));
        reads.push((6, Some(value(6))));
        assert_eq!(check(&reads).misplaced, 3, "an offset no append gave");
    }

    #[test]
    fn records_past_the_end_and_reused_offsets_fail_the_run() {
        let v = verdict(6, &layout(), &Tally::default(), 0);
        assert_eq!(v.lost, 6);
        let mut placements = Placements::default();
        let twice = AppendedRecord {
            partition: 0,
            offset: 0,
        };
        placements.book(0, &[twice, twice]);
        let layout = placements.into_layout(1);
        let format = ValueFormat::new(SIZE);
        let mut checker = Checker::new(&layout.partitions[0], 0, &format);
        checker.check(0, Some(&value(0)));
        let v = verdict(2, &layout, &checker.tally, 3);
        assert_eq!((v.lost, v.unexpected), (1, 3));
        assert!(!v.is_clean());
    }
}
