//! The offsets of one stream partition: which offset the next append gets, which records
//! readers may see, and what a read at a given offset means.
//!
//! Three marks, always `start ≤ durable_end ≤ next`:
//! - `start`: the first offset still stored (retention moves it forward);
//! - `durable_end`: records below it are durable, so readers see them (a crash can never take
//!   back a record a consumer saw, nor give its offset to another record);
//! - `next`: the offset the next append gets (appends written but not yet durable lie between
//!   `durable_end` and `next`).
//!
//! A conditional append names the `next` it expects; it is refused, with the actual one, if
//! they differ — the optimistic concurrency check of event sourcing.

/// Why an append or a read was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OffsetError {
    /// A conditional append expected another next offset; nothing was written.
    #[error("expected next offset {expected}, but it is {next}; nothing was written")]
    Mismatch {
        /// What the writer expected.
        expected: u64,
        /// The partition's actual next offset.
        next: u64,
    },
    /// A read asked for an offset past the durable end.
    #[error("offset {offset} is past the end; valid offsets are {start}..={end}")]
    OutOfRange {
        /// The offset asked for.
        offset: u64,
        /// The first stored offset.
        start: u64,
        /// The durable end (reading there returns nothing, or waits).
        end: u64,
    },
}

/// Where a read begins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadStart {
    /// The offset to read from.
    pub offset: u64,
    /// Whether the asked-for offset was removed by retention, so the read starts later.
    pub skipped: bool,
}

/// The offset marks of one partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionState {
    start: u64,
    durable_end: u64,
    next: u64,
}

impl PartitionState {
    /// A recovered partition: everything its log holds counts as durable.
    pub fn recovered(start: u64, next: u64) -> PartitionState {
        debug_assert!(start <= next);
        PartitionState {
            start,
            durable_end: next,
            next,
        }
    }

    /// The first stored offset.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// The end of the durable records: readers see offsets below it.
    pub fn durable_end(&self) -> u64 {
        self.durable_end
    }

    /// The offset the next append gets.
    pub fn next(&self) -> u64 {
        self.next
    }

    /// Checks an append of `span` records: the base offset it gets.
    ///
    /// # Errors
    /// [`OffsetError::Mismatch`] if `expected` is given and is not [`PartitionState::next`].
    pub fn check_append(&self, expected: Option<u64>) -> Result<u64, OffsetError> {
        match expected {
            Some(expected) if expected != self.next => Err(OffsetError::Mismatch {
                expected,
                next: self.next,
            }),
            _ => Ok(self.next),
        }
    }

    /// Records that an append of `span` offsets was written; returns its end (exclusive),
    /// to pass to [`PartitionState::durable`] once it is synced.
    pub fn appended(&mut self, span: u32) -> u64 {
        self.next += u64::from(span);
        self.next
    }

    /// Everything below `end` is durable now. Appends become durable in order; an older mark
    /// never moves the end back.
    pub fn durable(&mut self, end: u64) {
        debug_assert!(end <= self.next);
        self.durable_end = self.durable_end.max(end.min(self.next));
    }

    /// Retention removed everything below `start`.
    pub fn retained(&mut self, start: u64) {
        self.start = self.start.max(start.min(self.durable_end));
    }

    /// Where a read asked to start at `offset` begins.
    ///
    /// # Errors
    /// [`OffsetError::OutOfRange`] past the durable end.
    pub fn read_start(&self, offset: u64) -> Result<ReadStart, OffsetError> {
        if offset > self.durable_end {
            return Err(OffsetError::OutOfRange {
                offset,
                start: self.start,
                end: self.durable_end,
            });
        }
        Ok(ReadStart {
            offset: offset.max(self.start),
            skipped: offset < self.start,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // docs/streams.md#append
    #[test]
    fn appends_take_consecutive_offsets_and_readers_see_only_durable_ones() {
        let mut p = PartitionState::recovered(0, 0);
        assert_eq!(p.check_append(None), Ok(0));
        let first_end = p.appended(3);
        assert_eq!(p.check_append(None), Ok(3));
        let second_end = p.appended(2);
        assert_eq!((p.next(), p.durable_end()), (5, 0));
        // Not durable yet: reading at 1 is past the end.
        assert!(matches!(
            p.read_start(1),
            Err(OffsetError::OutOfRange { end: 0, .. })
        ));
        p.durable(first_end);
        assert_eq!(
            p.read_start(1),
            Ok(ReadStart {
                offset: 1,
                skipped: false
            })
        );
        assert_eq!(
            p.read_start(3),
            Ok(ReadStart {
                offset: 3,
                skipped: false
            })
        );
        assert!(p.read_start(4).is_err());
        p.durable(second_end);
        p.durable(first_end); // a late, older mark changes nothing
        assert_eq!(p.durable_end(), 5);
    }

    // docs/streams.md#conditional-appends
    #[test]
    fn a_conditional_append_must_name_the_next_offset_including_appends_in_flight() {
        let mut p = PartitionState::recovered(0, 10);
        assert_eq!(p.check_append(Some(10)), Ok(10));
        p.appended(1);
        // The first append is not durable yet, but it took offset 10.
        assert_eq!(
            p.check_append(Some(10)),
            Err(OffsetError::Mismatch {
                expected: 10,
                next: 11
            })
        );
        assert_eq!(p.check_append(Some(11)), Ok(11));
        assert_eq!(
            p.check_append(Some(99)),
            Err(OffsetError::Mismatch {
                expected: 99,
                next: 11
            })
        );
    }

    // docs/streams.md#retention
    #[test]
    fn reads_below_the_start_skip_ahead_and_say_so() {
        let mut p = PartitionState::recovered(0, 100);
        p.retained(40);
        assert_eq!(
            p.read_start(10),
            Ok(ReadStart {
                offset: 40,
                skipped: true
            })
        );
        assert_eq!(
            p.read_start(40),
            Ok(ReadStart {
                offset: 40,
                skipped: false
            })
        );
        assert_eq!(
            p.read_start(101),
            Err(OffsetError::OutOfRange {
                offset: 101,
                start: 40,
                end: 100
            })
        );
        p.retained(20); // never backwards
        assert_eq!(p.start(), 40);
    }
}
