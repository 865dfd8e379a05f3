//! The consumer-group calls of [`Broker`]: join, poll, heartbeat, commit, leave, describe,
//! reset. Membership is live state (members rejoin after a restart); committed offsets are in
//! the catalog and survive restarts.

use super::{Broker, invalid};
use crate::catalog::CommittedOffset;
use crate::clock::wall_now;
use crate::error::{Error, ErrorKind, Result};
use crate::live_stream::{LiveStream, PartitionHandle};
use crate::stream_types::*;
use ferry_core::GroupName;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Longest metadata string a commit may attach.
pub const MAX_COMMIT_METADATA_BYTES: usize = 4096;

impl Broker {
    fn group_stream(&self, stream: &str, group: &str) -> Result<Arc<LiveStream>> {
        let live = self.stream(stream)?;
        GroupName::new(group)?;
        Ok(live)
    }

    /// Names of the groups with members or committed offsets.
    pub(super) fn group_names(&self, stream: &LiveStream) -> Result<Vec<String>> {
        let mut names = self.inner.catalog.groups_with_offsets(&stream.name)?;
        names.extend(stream.groups.list().into_iter().map(|(name, _, _)| name));
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// Joins a consumer group (creating it on first join); the group rebalances.
    ///
    /// # Errors
    /// `stream_not_found`, `invalid_name`, `invalid_request` (session timeout out of range).
    pub async fn join_group(
        &self,
        stream: &str,
        group: &str,
        options: JoinOptions,
    ) -> Result<Membership> {
        let live = self.group_stream(stream, group)?;
        live.groups.join(
            stream,
            group,
            options.member_id.as_deref(),
            options.session_timeout,
            options.offset_reset,
            wall_now(),
        )
    }

    /// A member's heartbeat: keeps its session and tells it its generation and partitions.
    ///
    /// # Errors
    /// `stream_not_found`, `unknown_member` (join again).
    pub async fn heartbeat(
        &self,
        stream: &str,
        group: &str,
        member_id: &str,
        generation: u32,
    ) -> Result<Membership> {
        let live = self.group_stream(stream, group)?;
        live.groups
            .heartbeat(stream, group, member_id, generation, wall_now())
    }

    /// Leaves the group; the member's partitions go to the others at once.
    ///
    /// # Errors
    /// `stream_not_found`, `unknown_member`.
    pub async fn leave_group(&self, stream: &str, group: &str, member_id: &str) -> Result<()> {
        self.group_stream(stream, group)?
            .groups
            .leave(stream, group, member_id)
    }

    /// Polls records of the member's partitions from its positions (its last poll, else the
    /// committed offset, else the group's reset policy). Counts as a heartbeat.
    ///
    /// # Errors
    /// `stream_not_found`, `unknown_member`, `invalid_request` (wait too long).
    pub async fn poll_group(
        &self,
        stream: &str,
        group: &str,
        member_id: &str,
        generation: u32,
        options: PollOptions,
    ) -> Result<PollOutcome> {
        let live = self.group_stream(stream, group)?;
        self.check_wait(options.wait)?;
        let deadline = Instant::now() + options.wait;
        loop {
            let plan = live
                .groups
                .plan_poll(stream, group, member_id, generation, wall_now())?;
            // The catalog is read only when a partition has no position yet (after a join or
            // a rebalance), not on every poll.
            let committed = if plan.positions.iter().any(|(_, p)| p.is_none()) {
                self.inner.catalog.group_offsets(stream, group)?
            } else {
                Default::default()
            };
            let mut records = Vec::new();
            let mut waits = Vec::new();
            let mut budget = options.max_records.max(1);
            for (partition, position) in &plan.positions {
                let handle = live.partition(*partition)?;
                let ends = handle.ends();
                let from = position
                    .or_else(|| committed.get(partition).map(|c| c.offset))
                    .unwrap_or(match plan.offset_reset {
                        OffsetReset::Earliest => ends.start,
                        OffsetReset::Latest => ends.end,
                    })
                    .clamp(ends.start, ends.end);
                if budget == 0 || from >= ends.end {
                    waits.push((handle, from));
                    if position.is_none() {
                        live.groups.advance(
                            group,
                            member_id,
                            plan.membership.generation,
                            *partition,
                            from,
                        );
                    }
                    continue;
                }
                let stop = self.inner.stopping.subscribe();
                let read = handle
                    .read_records(
                        StartOffset::At(from),
                        budget,
                        options.max_bytes,
                        Duration::ZERO,
                        &stop,
                    )
                    .await?;
                budget =
                    budget.saturating_sub(u32::try_from(read.records.len()).unwrap_or(u32::MAX));
                live.groups.advance(
                    group,
                    member_id,
                    plan.membership.generation,
                    *partition,
                    read.next_offset,
                );
                records.extend(read.records.into_iter().map(|stored| PolledRecord {
                    partition: *partition,
                    stored,
                }));
            }
            let now = Instant::now();
            if !records.is_empty() || plan.membership.rebalanced || now >= deadline {
                return Ok(PollOutcome {
                    membership: plan.membership,
                    records,
                });
            }
            wait_for_any(
                waits,
                plan.generation,
                deadline,
                self.inner.stopping.subscribe(),
            )
            .await;
            if *self.inner.stopping.borrow() {
                return Ok(PollOutcome {
                    membership: plan.membership,
                    records,
                });
            }
        }
    }

    /// Checks offsets as [`Broker::commit_offsets`] does before it looks at who commits them
    /// (partitions, ends, metadata), and commits nothing: for a front end that must refuse
    /// bad offsets before it joins the group.
    ///
    /// # Errors
    /// `stream_not_found`, `partition_not_found`, `offset_out_of_range`, `invalid_request`.
    pub async fn check_offsets(
        &self,
        stream: &str,
        group: &str,
        offsets: &[OffsetCommit],
    ) -> Result<()> {
        let live = self.group_stream(stream, group)?;
        check_commits(&live, offsets)
    }

    /// Commits offsets for a group: by a member (fenced if its generation is stale or it
    /// does not own a partition), or, for a group without members, by anyone.
    ///
    /// # Errors
    /// `stream_not_found`, `partition_not_found`, `unknown_member`, `stale_generation`,
    /// `conflict` (a partition the member does not own, or a memberless commit while the group
    /// has members), `invalid_request` (offset past the end, metadata too long).
    pub async fn commit_offsets(
        &self,
        stream: &str,
        group: &str,
        committer: Option<Committer>,
        offsets: Vec<OffsetCommit>,
    ) -> Result<u32> {
        let live = self.group_stream(stream, group)?;
        check_commits(&live, &offsets)?;
        let _in_order = live.commits.lock().await;
        let partitions: Vec<u32> = offsets.iter().map(|c| c.partition).collect();
        match &committer {
            Some(c) => live.groups.check_commit(
                stream,
                group,
                &c.member_id,
                c.generation,
                &partitions,
                wall_now(),
            )?,
            None if live.groups.is_active(group) => {
                return Err(Error::new(
                    ErrorKind::Conflict,
                    format!(
                        "group {group:?} has members: commit as a member (member_id and generation)"
                    ),
                ));
            }
            None => {}
        }
        let now = wall_now();
        let rows: Vec<(u32, CommittedOffset)> = offsets
            .into_iter()
            .map(|c| {
                (
                    c.partition,
                    CommittedOffset {
                        offset: c.offset,
                        metadata: c.metadata,
                        committed_at: now,
                    },
                )
            })
            .collect();
        let count = u32::try_from(rows.len()).unwrap_or(u32::MAX);
        let broker = self.clone();
        let (stream_name, group_name) = (stream.to_owned(), group.to_owned());
        tokio::task::spawn_blocking(move || {
            broker
                .inner
                .catalog
                .commit_offsets(&stream_name, &group_name, &rows)
        })
        .await
        .map_err(|e| Error::new(ErrorKind::Internal, format!("commit: {e}")))??;
        Ok(count)
    }

    /// Every group of a stream with members or committed offsets.
    ///
    /// # Errors
    /// `stream_not_found`.
    pub fn list_groups(&self, stream: &str) -> Result<Vec<GroupSummary>> {
        let live = self.stream(stream)?;
        let live_groups = live.groups.list();
        Ok(self
            .group_names(&live)?
            .into_iter()
            .map(|name| {
                let (generation, members) = live_groups
                    .iter()
                    .find(|(n, _, _)| *n == name)
                    .map_or((0, 0), |(_, g, m)| {
                        (*g, u32::try_from(m.len()).unwrap_or(u32::MAX))
                    });
                GroupSummary {
                    name,
                    generation,
                    members,
                }
            })
            .collect())
    }

    /// A group's members, committed offsets and lag per partition.
    ///
    /// # Errors
    /// `stream_not_found`, `group_not_found`.
    pub async fn describe_group(&self, stream: &str, group: &str) -> Result<GroupInfo> {
        let live = self.group_stream(stream, group)?;
        let committed = self.inner.catalog.group_offsets(stream, group)?;
        let live_group = live.groups.list().into_iter().find(|(n, _, _)| n == group);
        if committed.is_empty() && live_group.is_none() {
            return Err(Error::new(
                ErrorKind::GroupNotFound,
                format!("stream {stream:?} has no group {group:?}"),
            ));
        }
        let (generation, members) = live_group.map_or((0, Vec::new()), |(_, g, m)| (g, m));
        let mut partitions = Vec::new();
        let now = wall_now();
        for (number, handle) in (0u32..).zip(live.partitions()) {
            partitions.push(group_partition(number, &handle, committed.get(&number), now).await?);
        }
        Ok(GroupInfo {
            name: group.to_owned(),
            generation,
            members,
            partitions,
        })
    }

    /// Moves a group's committed offsets; only while the group has no members.
    ///
    /// # Errors
    /// `stream_not_found`, `partition_not_found`, `conflict` (the group has members),
    /// `offset_out_of_range`.
    pub async fn reset_group_offsets(
        &self,
        stream: &str,
        group: &str,
        to: ResetTo,
    ) -> Result<Vec<(u32, u64)>> {
        let live = self.group_stream(stream, group)?;
        if live.groups.is_active(group) {
            return Err(active_group(group));
        }
        let mut targets = Vec::new();
        match to {
            ResetTo::Offsets(offsets) => targets = offsets,
            other => {
                for (number, handle) in (0u32..).zip(live.partitions()) {
                    let ends = handle.ends();
                    let offset = match &other {
                        ResetTo::Earliest => ends.start,
                        ResetTo::Timestamp(t) => handle
                            .record_at_time(*t)
                            .await?
                            .map_or(ends.end, |(offset, _)| offset),
                        _ => ends.end,
                    };
                    targets.push((number, offset));
                }
            }
        }
        let commits = targets
            .iter()
            .map(|&(partition, offset)| OffsetCommit {
                partition,
                offset,
                metadata: None,
            })
            .collect();
        self.commit_offsets(stream, group, None, commits).await?;
        live.groups.clear_positions(group);
        Ok(targets)
    }

    /// Deletes a group's committed offsets; only while it has no members.
    ///
    /// # Errors
    /// `stream_not_found`, `conflict` (the group has members).
    pub async fn delete_group(&self, stream: &str, group: &str) -> Result<()> {
        let live = self.group_stream(stream, group)?;
        if live.groups.is_active(group) {
            return Err(active_group(group));
        }
        live.groups.forget(group);
        self.inner.catalog.remove_group(stream, group)
    }

    /// Removes members whose sessions ran out, in every stream (the sweeper's round).
    pub(super) fn expire_members(&self) {
        let now = wall_now();
        for live in self.inner.streams.all() {
            for (group, member) in live.groups.expire(now) {
                tracing::info!(stream = %live.name, group = %group, member = %member, "member session expired; the group rebalanced");
            }
        }
    }
}

fn active_group(group: &str) -> Error {
    Error::new(
        ErrorKind::Conflict,
        format!(
            "group {group:?} has active members; stop them (or let their sessions expire) first"
        ),
    )
}

/// One partition's committed offset and lag.
async fn group_partition(
    partition: u32,
    handle: &PartitionHandle,
    committed: Option<&CommittedOffset>,
    now: ferry_core::Timestamp,
) -> Result<GroupPartition> {
    let ends = handle.ends();
    let position = committed
        .map_or(ends.start, |c| c.offset)
        .clamp(ends.start, ends.end);
    let lag = if position < ends.end {
        let chunk = handle.read(position, 1).await?;
        let first = crate::live_stream::first_timestamp(position, &chunk)?;
        first.map_or(Duration::ZERO, |t| now.since(t))
    } else {
        Duration::ZERO
    };
    Ok(GroupPartition {
        partition,
        committed: committed.cloned(),
        end_offset: ends.end,
        lag_records: ends.end - position,
        lag,
    })
}

/// Waits until one of the partitions grows past its position, the group rebalances, the
/// deadline passes, or the broker stops.
async fn wait_for_any(
    waits: Vec<(PartitionHandle, u64)>,
    mut generation: tokio::sync::watch::Receiver<u32>,
    deadline: Instant,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let grown = waits
        .into_iter()
        .map(|(handle, from)| {
            let stop = stop.clone();
            Box::pin(async move { handle.wait_past(from, deadline, stop).await })
        })
        .collect::<Vec<_>>();
    let any_grown = async {
        if grown.is_empty() {
            tokio::time::sleep_until(deadline).await;
        } else {
            futures_util::future::select_all(grown).await;
        }
    };
    let current = *generation.borrow_and_update();
    tokio::select! {
        _ = any_grown => {}
        _ = generation.wait_for(|g| *g != current) => {}
    }
}

/// The checks of a commit that need no member: a known partition, an offset at most its end,
/// metadata within bounds, and at most 10,000 entries.
fn check_commits(live: &LiveStream, offsets: &[OffsetCommit]) -> Result<()> {
    super::check_batch_len(offsets.len(), 10_000, "offsets")?;
    for commit in offsets {
        let end = live.partition(commit.partition)?.ends().end;
        if commit.offset > end {
            return Err(Error::new(
                ErrorKind::OffsetOutOfRange,
                format!(
                    "partition {}: offset {} is past the end ({end})",
                    commit.partition, commit.offset
                ),
            ));
        }
        if commit
            .metadata
            .as_ref()
            .is_some_and(|m| m.len() > MAX_COMMIT_METADATA_BYTES)
        {
            return Err(invalid(format!(
                "partition {}: metadata is longer than {MAX_COMMIT_METADATA_BYTES} bytes",
                commit.partition
            )));
        }
    }
    Ok(())
}
