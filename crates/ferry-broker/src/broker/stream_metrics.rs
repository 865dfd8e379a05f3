//! The stream part of [`Broker::metrics`]: partition extents, counted events, and consumer
//! group lag, read from the partitions' tasks and the catalog when asked.

use super::Broker;
use crate::error::Result;
use crate::live_stream::LiveStream;
use crate::metrics::{
    Detail, GroupMetrics, GroupPartitionMetrics, MAX_GROUPS_PER_STREAM, StreamMetrics,
};
use crate::stream_types::PartitionInfo;
use std::collections::BTreeMap;

impl Broker {
    /// Every live stream's numbers, by name. Streams being deleted are left out.
    pub(super) async fn stream_metrics(&self, detail: Detail) -> Vec<StreamMetrics> {
        let mut out = Vec::new();
        for live in self.inner.streams.all() {
            match self.one_stream_metrics(&live, detail).await {
                Ok(metrics) => out.push(metrics),
                Err(e) => {
                    tracing::debug!(stream = %live.name, error = %e, "stream left out of the metrics")
                }
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// One stream: a request to each partition's task, one catalog read for every group's
    /// offsets, and, for a [`Detail::Full`] snapshot, a record read per lagging partition of
    /// each of the busiest groups (for the lag in time).
    async fn one_stream_metrics(&self, live: &LiveStream, detail: Detail) -> Result<StreamMetrics> {
        let mut partitions = Vec::new();
        for (number, handle) in (0u32..).zip(live.partitions()) {
            partitions.push(PartitionInfo {
                partition: number,
                ..handle.info().await?
            });
        }
        // Groups with committed offsets (native and Kafka groups share the table), then the
        // groups that only have members so far.
        let mut committed: BTreeMap<String, BTreeMap<u32, u64>> = BTreeMap::new();
        for (group, partition, offset) in self.inner.catalog.stream_offsets(&live.name)? {
            committed
                .entry(group)
                .or_default()
                .insert(partition, offset);
        }
        for (group, _, _) in live.groups.list() {
            committed.entry(group).or_default();
        }
        let mut groups: Vec<GroupMetrics> = committed
            .into_iter()
            .map(|(name, offsets)| group_metrics(name, &offsets, &partitions))
            .collect();
        let count = groups.len() as u64;
        let lag_records = groups.iter().map(GroupMetrics::lag_records).sum();
        groups.sort_by(|a, b| {
            b.lag_records()
                .cmp(&a.lag_records())
                .then_with(|| a.name.cmp(&b.name))
        });
        groups.truncate(MAX_GROUPS_PER_STREAM);
        if detail == Detail::Full {
            for group in &mut groups {
                // The group may have been deleted meanwhile: then it has no lag in time.
                if let Ok(info) = self.describe_group(&live.name, &group.name).await {
                    let oldest = info.partitions.iter().map(|p| p.lag).max();
                    group.lag_ms = Some(
                        oldest.map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
                    );
                }
            }
        }
        Ok(StreamMetrics {
            name: live.name.clone(),
            partitions,
            events: live.counters.read(),
            groups: count,
            lag_records,
            busiest_groups: groups,
        })
    }
}

/// A group's committed offsets and lag in records against the partitions' extents (the lag
/// counts from a partition's start where the group committed nothing, as
/// [`Broker::describe_group`] does).
fn group_metrics(
    name: String,
    offsets: &BTreeMap<u32, u64>,
    partitions: &[PartitionInfo],
) -> GroupMetrics {
    let partitions = partitions
        .iter()
        .map(|p| {
            let committed = offsets.get(&p.partition).copied();
            let position = committed
                .unwrap_or(p.start_offset)
                .clamp(p.start_offset, p.end_offset);
            GroupPartitionMetrics {
                partition: p.partition,
                committed_offset: committed,
                lag_records: p.end_offset - position,
            }
        })
        .collect();
    GroupMetrics {
        name,
        partitions,
        lag_ms: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partition(partition: u32, start_offset: u64, end_offset: u64) -> PartitionInfo {
        PartitionInfo {
            partition,
            start_offset,
            end_offset,
            bytes: 0,
            segments: 1,
        }
    }

    #[test]
    fn lag_counts_from_the_commit_or_the_start_and_never_past_the_end() {
        let parts = [partition(0, 0, 10), partition(1, 4, 9), partition(2, 0, 3)];
        let offsets = BTreeMap::from([(0, 7), (2, 3)]);
        let g = group_metrics("g".into(), &offsets, &parts);
        let lags: Vec<(Option<u64>, u64)> = g
            .partitions
            .iter()
            .map(|p| (p.committed_offset, p.lag_records))
            .collect();
        assert_eq!(lags, [(Some(7), 3), (None, 5), (Some(3), 0)]);
        assert_eq!(g.lag_records(), 8);
        let behind_start = group_metrics("h".into(), &BTreeMap::from([(1, 2)]), &parts);
        assert_eq!(
            behind_start.partitions[1].lag_records, 5,
            "clamped to the start"
        );
    }
}
