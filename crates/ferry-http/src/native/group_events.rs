//! `GET /v1/streams/{s}/groups/{g}/events`: consuming as a member of a consumer group over
//! server-sent events. See [`group_events`].

use crate::error::ApiError;
use crate::extract::{PathParams, QueryParams};
use crate::native::events::{
    EMPTY_POLL_PAUSE, FEED_WAIT, error_event, last_event_id, pause, record_event, sse,
};
use crate::native::groups::{join_encode, join_options};
use crate::native::records::{DEFAULT_MAX_BYTES, record_encode};
use crate::state::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, Sse};
use ferry_api::{OffsetReset, ReadEncoding};
use ferry_broker::{Broker, Committer, ErrorKind, Membership, OffsetCommit, PollOptions};
use futures_util::Stream;
use serde::Deserialize;
use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// Records fetched per poll: small, because the member heartbeats only between polls and a
/// slow client takes a while to drain a batch.
const FEED_MAX_RECORDS: u32 = 100;
/// Attempts at committing the `Last-Event-ID` position while the group keeps rebalancing.
const RESUME_ATTEMPTS: u32 = 3;
/// Most entries a position vector may have (a stream's most partitions).
const MAX_POSITIONS: usize = 1024;

/// The query of `GET …/groups/{g}/events`: `ferry_api::GroupEventsQuery` plus
/// `auto_offset_reset`, which that type lacks (adding a field there breaks a struct literal in
/// `ferry-client`'s tests, outside this crate).
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GroupEventsQuery {
    /// The member's session timeout (default: the broker's).
    session_timeout_ms: Option<u64>,
    /// Where to start in partitions the group never committed (default `latest`).
    auto_offset_reset: Option<OffsetReset>,
}

/// Consumes as a member of group `g` for as long as the connection lasts.
///
/// The connection joins the group as a new member and polls in a loop (each poll is also its
/// heartbeat), sending each record as `event: record` with `data` the record as a group poll
/// returns it (with its `partition`) and `id` the member's *position vector* after it:
/// `partition:next_offset` for every partition it owns and has a position in, by partition,
/// comma-separated (`0:15,1:22`). An `event: assignment` (`data` like a join reply:
/// `member_id`, `generation`, `assignment`) is sent first and after every rebalance; a
/// rebalance drops the partitions the member lost from the vector. When the client
/// disconnects (or the reply ends for any reason) the member leaves the group, so its
/// partitions move to the others at once. A member whose client reads too slowly to poll
/// within its session timeout is dropped by the group; the reply then ends with
/// `event: error` (`unknown_member`), and the client reconnects.
///
/// # Delivery: at least once
///
/// This route never commits on its own: sending a record does not mean the client processed
/// it. A client commits by reconnecting with `Last-Event-ID` (what a browser's `EventSource`
/// does after a disconnect): the new member first commits that vector, then consumes from the
/// group's committed offsets. So every record is delivered at least once, and a record can be
/// delivered again, to this client or to another member, when a connection ends before its
/// position was committed.
///
/// The vector is committed *as the new member, right after it joined*, not as a memberless
/// commit before joining: the broker refuses memberless commits while the group has members,
/// and the old connection's member is often still there (the server notices a vanished
/// client only when a write fails) as are the other members of the group. A member may only
/// commit partitions it owns in its current generation, so only those entries of the vector
/// are committed; if the group rebalances in between, the commit is retried with the new
/// generation. The entries for partitions now owned by other members are dropped: those
/// members continue from the group's last commit, which at worst delivers records again.
pub(crate) async fn group_events(
    State(state): State<AppState>,
    PathParams((stream, group)): PathParams<(String, String)>,
    QueryParams(query): QueryParams<GroupEventsQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let resume = last_event_id(&headers)?.map(parse_positions).transpose()?;
    let options = join_options(None, query.session_timeout_ms, query.auto_offset_reset);
    let wait = poll_wait(options.session_timeout);
    let broker = state.broker.clone();
    if let Some(positions) = &resume {
        // Checked before joining: a refused resume must not make the group rebalance.
        let offsets: Vec<OffsetCommit> = positions
            .iter()
            .map(|(&partition, &offset)| OffsetCommit {
                partition,
                offset,
                metadata: None,
            })
            .collect();
        broker.check_offsets(&stream, &group, &offsets).await?;
    }
    let joined = broker.join_group(&stream, &group, options).await?;
    let guard = LeaveGuard {
        broker: broker.clone(),
        stream: stream.clone(),
        group: group.clone(),
        member_id: joined.member_id.clone(),
    };
    let mut feed = GroupFeed {
        broker,
        stream,
        group,
        membership: joined,
        positions: BTreeMap::new(),
        wait,
        pending: VecDeque::new(),
        draining: state.draining(),
        ended: false,
        _guard: guard,
    };
    if let Some(positions) = resume {
        feed.resume(positions).await?;
    }
    feed.on_assignment();
    Ok(sse(futures_util::stream::unfold(feed, |mut feed| async {
        let event = feed.next_event().await?;
        Some((Ok(event), feed))
    })))
}

/// The long-poll wait of a member: well within its session timeout, since it heartbeats only
/// by polling.
fn poll_wait(session_timeout: Duration) -> Duration {
    (session_timeout / 3).min(FEED_WAIT)
}

/// Leaves the group when the feed is dropped (client gone, reply ended, server draining).
struct LeaveGuard {
    broker: Broker,
    stream: String,
    group: String,
    member_id: String,
}

impl Drop for LeaveGuard {
    fn drop(&mut self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let broker = self.broker.clone();
        let (stream, group) = (self.stream.clone(), self.group.clone());
        let member_id = std::mem::take(&mut self.member_id);
        runtime.spawn(async move {
            match broker.leave_group(&stream, &group, &member_id).await {
                Ok(()) => {
                    tracing::debug!(stream, group, member_id, "group events: member left");
                }
                // Already dropped by the group (session expired) or the broker is stopping.
                Err(e) => {
                    tracing::debug!(stream, group, member_id, error = %e, "group events: leave")
                }
            }
        });
    }
}

/// The state of one group feed between events.
struct GroupFeed {
    broker: Broker,
    stream: String,
    group: String,
    /// The member's id, generation and partitions, as of its last poll.
    membership: Membership,
    /// Next offset per owned partition the client has a position in: the event id.
    positions: BTreeMap<u32, u64>,
    /// The long-poll wait; zero if the broker refused long polls (its `max_wait_ms`).
    wait: Duration,
    pending: VecDeque<Event>,
    draining: watch::Receiver<bool>,
    ended: bool,
    _guard: LeaveGuard,
}

impl GroupFeed {
    /// Commits the owned entries of a `Last-Event-ID` vector as this member and starts from
    /// them (see [`group_events`]).
    async fn resume(&mut self, positions: BTreeMap<u32, u64>) -> Result<(), ApiError> {
        let mut attempt = 1;
        loop {
            let owned: Vec<OffsetCommit> = positions
                .iter()
                .filter(|(p, _)| self.membership.assignment.contains(p))
                .map(|(&partition, &offset)| OffsetCommit {
                    partition,
                    offset,
                    metadata: None,
                })
                .collect();
            if owned.is_empty() {
                return Ok(());
            }
            let committer = Committer {
                member_id: self.membership.member_id.clone(),
                generation: self.membership.generation,
            };
            let result = self
                .broker
                .commit_offsets(&self.stream, &self.group, Some(committer), owned.clone())
                .await;
            match result {
                Ok(_) => {
                    self.positions = owned.iter().map(|c| (c.partition, c.offset)).collect();
                    return Ok(());
                }
                Err(e) if e.kind == ErrorKind::StaleGeneration && attempt < RESUME_ATTEMPTS => {
                    attempt += 1;
                    let m = &self.membership;
                    self.membership = self
                        .broker
                        .heartbeat(&self.stream, &self.group, &m.member_id, m.generation)
                        .await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The next event to send, polling (and waiting) as needed; `None` ends the reply.
    async fn next_event(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            if self.ended {
                return None;
            }
            self.poll().await;
        }
    }

    /// One long poll, cut short when the server starts draining.
    async fn poll(&mut self) {
        let started = Instant::now();
        let options = PollOptions {
            max_records: FEED_MAX_RECORDS,
            max_bytes: u32::try_from(DEFAULT_MAX_BYTES).unwrap_or(u32::MAX),
            wait: self.wait,
        };
        let m = &self.membership;
        let poll = self.broker.poll_group(
            &self.stream,
            &self.group,
            &m.member_id,
            m.generation,
            options,
        );
        let outcome = tokio::select! {
            biased;
            _ = self.draining.wait_for(|d| *d) => {
                self.ended = true;
                return;
            }
            outcome = poll => outcome,
        };
        match outcome {
            Ok(outcome) => {
                let rebalanced = outcome.membership.generation != self.membership.generation;
                self.membership = outcome.membership;
                if rebalanced {
                    self.on_assignment();
                }
                let empty = outcome.records.is_empty();
                for polled in outcome.records {
                    let offset = polled.stored.offset;
                    self.positions
                        .insert(polled.partition, offset.saturating_add(1));
                    let record =
                        record_encode(polled.stored, Some(polled.partition), ReadEncoding::Auto);
                    self.pending
                        .push_back(record_event(&record, &format_positions(&self.positions)));
                }
                let early = started.elapsed() < self.wait.max(EMPTY_POLL_PAUSE);
                if empty && !rebalanced && early && pause(&mut self.draining).await {
                    self.ended = true;
                }
            }
            Err(e) if e.kind == ErrorKind::InvalidRequest && !self.wait.is_zero() => {
                tracing::debug!(error = %e, "group events: the broker refused the long poll; polling instead");
                self.wait = Duration::ZERO;
            }
            Err(e) => {
                self.pending
                    .push_back(error_event(e.kind.code(), &e.message));
                self.ended = true;
            }
        }
    }

    /// After joining and every rebalance: forget lost partitions, tell the client.
    fn on_assignment(&mut self) {
        let assignment = &self.membership.assignment;
        self.positions.retain(|p, _| assignment.contains(p));
        let reply = join_encode(self.membership.clone());
        let json = serde_json::to_string(&reply).unwrap_or_default();
        self.pending
            .push_back(Event::default().event("assignment").data(json));
    }
}

/// `0:15,1:22`: partition and next offset, by partition.
fn format_positions(positions: &BTreeMap<u32, u64>) -> String {
    let pairs: Vec<String> = positions.iter().map(|(p, o)| format!("{p}:{o}")).collect();
    pairs.join(",")
}

/// The inverse of [`format_positions`], refusing anything else with a 400.
fn parse_positions(id: &str) -> Result<BTreeMap<u32, u64>, ApiError> {
    let shown: String = id.chars().take(64).collect();
    let invalid = |why: &str| {
        ApiError::invalid_request(format!(
            "invalid Last-Event-ID {shown:?}: {why}; expected partition:next_offset pairs joined by commas, e.g. 0:15,1:22"
        ))
    };
    let mut positions = BTreeMap::new();
    for pair in id.split(',') {
        let (partition, offset) = pair
            .trim()
            .split_once(':')
            .ok_or_else(|| invalid("a pair has no ':'"))?;
        let partition: u32 = partition
            .parse()
            .map_err(|_| invalid("a partition is not a number"))?;
        let offset: u64 = offset
            .parse()
            .map_err(|_| invalid("an offset is not a number"))?;
        if positions.insert(partition, offset).is_some() {
            return Err(invalid("a partition appears twice"));
        }
        if positions.len() > MAX_POSITIONS {
            return Err(invalid("too many pairs"));
        }
    }
    Ok(positions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_vectors_round_trip() {
        let positions: BTreeMap<u32, u64> = [(1, 22), (0, 15), (10, 0)].into_iter().collect();
        let id = format_positions(&positions);
        assert_eq!(id, "0:15,1:22,10:0");
        assert_eq!(parse_positions(&id).ok(), Some(positions));
        assert_eq!(format_positions(&BTreeMap::new()), "");
    }

    #[test]
    fn bad_position_vectors_are_refused() {
        for bad in [
            "5",
            "0:1,0:2",
            "a:1",
            "0:-1",
            "0:1,",
            "0:1;1:2",
            "4294967296:0",
        ] {
            let e = parse_positions(bad).err().map(|e| format!("{e:?}"));
            assert!(
                e.as_deref()
                    .is_some_and(|e| e.contains("invalid Last-Event-ID")),
                "{bad}: {e:?}"
            );
        }
    }

    #[test]
    fn members_poll_well_within_their_session() {
        assert_eq!(poll_wait(Duration::from_secs(3)), Duration::from_secs(1));
        assert_eq!(poll_wait(Duration::from_secs(600)), FEED_WAIT);
    }
}
