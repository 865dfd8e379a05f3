//! Which batches each producer sends, how big they are and, at a fixed rate, when each is due.
//!
//! Batches are numbered globally (`g = 0, 1, 2 …`) and dealt round-robin: producer `p` of `P`
//! sends `g = p, p + P, p + 2P …`. At a fixed rate of `R` messages/s with batches of `B`, batch
//! `g` is due `g · B / R` seconds after the run's origin, whichever producer sends it; so the
//! producers interleave evenly and the whole run keeps the rate. Everything here is pure: the
//! timetable is computed from the batch number, never accumulated, so it cannot drift.

use std::num::NonZeroU64;
use std::time::Duration;

/// How long a run sends for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// This many messages in all, across producers.
    Count {
        /// Total messages to send.
        messages: u64,
    },
    /// Until this long after the run's origin (warm-up included).
    Until {
        /// End of the sending phase, since the origin.
        end: Duration,
    },
}

/// One producer's share of the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Schedule {
    /// Messages per send request.
    pub(crate) batch: NonZeroU64,
    /// How many producers share the run.
    pub(crate) producers: NonZeroU64,
    /// Which of them this is (below `producers`).
    pub(crate) producer: u64,
    /// How much is sent.
    pub(crate) plan: Plan,
    /// Messages per second for the whole run, or `None` for as fast as possible.
    pub(crate) rate_per_s: Option<NonZeroU64>,
}

/// One send request of a producer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Slot {
    /// How many messages it carries (the last batch of a counted run may be short).
    pub(crate) messages: u64,
    /// When it is due, since the origin; `None` when running as fast as possible.
    pub(crate) due: Option<Duration>,
}

impl Schedule {
    /// The producer's `k`-th send (from 0), or `None` once it has nothing more to send.
    ///
    /// Unpaced runs under [`Plan::Until`] never end here: the producer watches the clock.
    pub(crate) fn slot(&self, k: u64) -> Option<Slot> {
        let g = k
            .checked_mul(self.producers.get())?
            .checked_add(self.producer)?;
        let due = self.rate_per_s.map(|rate| due_at(g, self.batch, rate));
        let messages = match self.plan {
            Plan::Count { messages } => {
                let first = g.checked_mul(self.batch.get())?;
                if first >= messages {
                    return None;
                }
                (messages - first).min(self.batch.get())
            }
            Plan::Until { end } => {
                if due.is_some_and(|due| due >= end) {
                    return None;
                }
                self.batch.get()
            }
        };
        Some(Slot { messages, due })
    }

    /// The number of the first message of the producer's `k`-th send, counted across all
    /// producers from 0 (global batch `g` starts at `g · batch`); `None` on overflow. Numbers
    /// are unique across the producers of a run.
    pub(crate) fn first_message(&self, k: u64) -> Option<u64> {
        k.checked_mul(self.producers.get())?
            .checked_add(self.producer)?
            .checked_mul(self.batch.get())
    }
}

/// When global batch `g` is due: its first message's place on a timetable of `rate` per second.
fn due_at(g: u64, batch: NonZeroU64, rate: NonZeroU64) -> Duration {
    let nanos = u128::from(g)
        .checked_mul(u128::from(batch.get()))
        .and_then(|n| n.checked_mul(1_000_000_000))
        .map_or(u128::MAX, |n| n / u128::from(rate.get()));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nz(n: u64) -> NonZeroU64 {
        NonZeroU64::new(n).unwrap_or(NonZeroU64::MIN)
    }

    fn schedule(batch: u64, producers: u64, producer: u64, plan: Plan, rate: u64) -> Schedule {
        Schedule {
            batch: nz(batch),
            producers: nz(producers),
            producer,
            plan,
            rate_per_s: NonZeroU64::new(rate),
        }
    }

    fn slots(s: &Schedule) -> Vec<Slot> {
        (0..).map_while(|k| s.slot(k)).take(10_000).collect()
    }

    fn ms(n: u64) -> Option<Duration> {
        Some(Duration::from_millis(n))
    }

    #[test]
    fn single_messages_at_1000_per_s_are_due_every_millisecond() {
        let s = schedule(1, 1, 0, Plan::Count { messages: 4 }, 1000);
        let got = slots(&s);
        assert_eq!(
            got.iter().map(|s| s.due).collect::<Vec<_>>(),
            vec![ms(0), ms(1), ms(2), ms(3)]
        );
        assert!(got.iter().all(|s| s.messages == 1));
    }

    #[test]
    fn producers_interleave_on_one_timetable() {
        let plan = Plan::Count { messages: 450 };
        let p0 = slots(&schedule(100, 2, 0, plan, 1000));
        let p1 = slots(&schedule(100, 2, 1, plan, 1000));
        assert_eq!(
            p0,
            vec![
                Slot {
                    messages: 100,
                    due: ms(0)
                },
                Slot {
                    messages: 100,
                    due: ms(200)
                },
                Slot {
                    messages: 50,
                    due: ms(400)
                },
            ]
        );
        assert_eq!(
            p1,
            vec![
                Slot {
                    messages: 100,
                    due: ms(100)
                },
                Slot {
                    messages: 100,
                    due: ms(300)
                }
            ]
        );
    }

    #[test]
    fn a_counted_run_sends_exactly_the_count_across_producers() {
        for (messages, batch, producers) in [
            (100_000, 100, 1),
            (10, 3, 4),
            (1, 100, 3),
            (7, 1, 7),
            (0, 5, 2),
        ] {
            let total: u64 = (0..producers)
                .flat_map(|p| slots(&schedule(batch, producers, p, Plan::Count { messages }, 0)))
                .map(|s| s.messages)
                .sum();
            assert_eq!(
                total, messages,
                "{messages} in batches of {batch} over {producers}"
            );
        }
    }

    #[test]
    fn first_messages_number_every_message_once_across_producers() {
        let plan = Plan::Count { messages: 25 };
        let mut numbers: Vec<u64> = (0..3)
            .flat_map(|p| {
                let s = schedule(4, 3, p, plan, 0);
                (0..)
                    .map_while(move |k| Some((s.first_message(k)?, s.slot(k)?)))
                    .flat_map(|(first, slot)| first..first + slot.messages)
                    .collect::<Vec<_>>()
            })
            .collect();
        numbers.sort_unstable();
        assert_eq!(numbers, (0..25).collect::<Vec<_>>());
        assert_eq!(schedule(4, 3, 2, plan, 0).first_message(u64::MAX), None);
    }

    #[test]
    fn unpaced_slots_have_no_due_time() {
        let s = schedule(10, 1, 0, Plan::Count { messages: 25 }, 0);
        assert_eq!(
            slots(&s),
            vec![
                Slot {
                    messages: 10,
                    due: None
                },
                Slot {
                    messages: 10,
                    due: None
                },
                Slot {
                    messages: 5,
                    due: None
                },
            ]
        );
    }

    #[test]
    fn a_timed_run_at_a_rate_stops_at_the_end() {
        let s = schedule(
            1,
            1,
            0,
            Plan::Until {
                end: Duration::from_millis(5),
            },
            1000,
        );
        assert_eq!(slots(&s).len(), 5, "due at 0..=4 ms");
        let unpaced = schedule(
            1,
            1,
            0,
            Plan::Until {
                end: Duration::ZERO,
            },
            0,
        );
        assert_eq!(
            unpaced.slot(1_000_000),
            Some(Slot {
                messages: 1,
                due: None
            }),
            "the clock ends it"
        );
    }

    #[test]
    fn odd_rates_keep_exact_times_without_drift() {
        let s = schedule(1, 1, 0, Plan::Count { messages: u64::MAX }, 3);
        assert_eq!(
            s.slot(1).and_then(|s| s.due),
            Some(Duration::from_nanos(333_333_333))
        );
        assert_eq!(
            s.slot(3_000_000).and_then(|s| s.due),
            Some(Duration::from_secs(1_000_000))
        );
    }

    #[test]
    fn huge_batch_numbers_end_rather_than_overflow() {
        let s = schedule(1000, 3, 2, Plan::Count { messages: u64::MAX }, 1);
        assert_eq!(s.slot(u64::MAX), None);
        assert_eq!(s.slot(u64::MAX / 3), None);
    }
}
