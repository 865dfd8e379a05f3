//! The catalog: which queues and streams exist, their configs, and the consumer groups'
//! committed offsets, in a small embedded ACID store (redb).
//!
//! The catalog lists queues; each queue's own log is the authority for its config (every change
//! is a `Configure` record), and recovery repairs the catalog from the log if the two disagree.
//! For streams the catalog is the authority: a stream's partitions hold only records.

use crate::error::{Error, ErrorKind, Result};
use ferry_core::Timestamp;
use ferry_core::queue::QueueConfig;
use ferry_core::stream::StreamConfig;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

const QUEUES: TableDefinition<&str, &[u8]> = TableDefinition::new("queues");
const STREAMS: TableDefinition<&str, &[u8]> = TableDefinition::new("streams");
/// Committed offsets by (stream, group, partition).
const OFFSETS: TableDefinition<(&str, &str, u32), &[u8]> = TableDefinition::new("group_offsets");

/// Partition starts moved forward by a client (Kafka's DeleteRecords), by (stream, partition).
const STARTS: TableDefinition<(&str, u32), u64> = TableDefinition::new("partition_starts");
/// Counters that must never hand out a value twice, by name.
const COUNTERS: TableDefinition<&str, u64> = TableDefinition::new("counters");
/// The counter of Kafka producer ids.
const PRODUCER_IDS: &str = "producer_id";

/// What the catalog stores per stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct StreamRecord {
    /// The stream's configuration.
    pub(crate) config: StreamConfig,
    /// When it was created.
    pub(crate) created_at: Timestamp,
    /// When its config last changed.
    pub(crate) updated_at: Timestamp,
}

/// A consumer group's committed position in one partition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedOffset {
    /// The next offset the group will read (Kafka semantics: one past the last processed).
    pub offset: u64,
    /// Whatever the committer attached (e.g. a checkpoint note), handed back verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
    /// When it was committed.
    pub committed_at: Timestamp,
}

/// What the catalog stores per queue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct QueueRecord {
    /// The queue's incarnation id (high half of its message ids).
    pub(crate) uid: u64,
    /// Its configuration.
    pub(crate) config: QueueConfig,
    /// When it was created.
    pub(crate) created_at: Timestamp,
    /// When its config last changed.
    pub(crate) updated_at: Timestamp,
    /// The user's tags (key → value), for cost allocation and the like; Ferry never reads them.
    #[serde(default)]
    pub(crate) tags: BTreeMap<String, String>,
    /// Settings of protocol front ends that are not part of [`QueueConfig`] (e.g. the SQS
    /// adapter's `RedriveAllowPolicy`), kept verbatim for the front end that set them.
    #[serde(default)]
    pub(crate) attributes: BTreeMap<String, String>,
}

/// The catalog database.
pub(crate) struct Catalog {
    db: Database,
}

fn storage(e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Internal, format!("catalog: {e}"))
}

impl Catalog {
    /// Opens (or creates) the catalog file.
    pub(crate) fn open(path: &Path) -> Result<Catalog> {
        let db = Database::create(path).map_err(storage)?;
        let txn = db.begin_write().map_err(storage)?;
        txn.open_table(QUEUES).map_err(storage)?;
        txn.open_table(STREAMS).map_err(storage)?;
        txn.open_table(OFFSETS).map_err(storage)?;
        txn.open_table(STARTS).map_err(storage)?;
        txn.open_table(COUNTERS).map_err(storage)?;
        txn.commit().map_err(storage)?;
        Ok(Catalog { db })
    }

    /// Every queue, by name.
    pub(crate) fn queues(&self) -> Result<Vec<(String, QueueRecord)>> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(QUEUES).map_err(storage)?;
        let mut out = Vec::new();
        for row in table.iter().map_err(storage)? {
            let (name, value) = row.map_err(storage)?;
            let record: QueueRecord = serde_json::from_slice(value.value()).map_err(storage)?;
            out.push((name.value().to_owned(), record));
        }
        Ok(out)
    }

    /// One queue's record, if it exists.
    pub(crate) fn get(&self, name: &str) -> Result<Option<QueueRecord>> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(QUEUES).map_err(storage)?;
        let Some(value) = table.get(name).map_err(storage)? else {
            return Ok(None);
        };
        serde_json::from_slice(value.value())
            .map(Some)
            .map_err(storage)
    }

    /// Creates or replaces a queue's record (durably).
    pub(crate) fn put(&self, name: &str, record: &QueueRecord) -> Result<()> {
        let bytes = serde_json::to_vec(record).map_err(storage)?;
        let txn = self.db.begin_write().map_err(storage)?;
        txn.open_table(QUEUES)
            .map_err(storage)?
            .insert(name, bytes.as_slice())
            .map_err(storage)?;
        txn.commit().map_err(storage)
    }

    /// Removes a queue's record (durably).
    pub(crate) fn remove(&self, name: &str) -> Result<()> {
        let txn = self.db.begin_write().map_err(storage)?;
        txn.open_table(QUEUES)
            .map_err(storage)?
            .remove(name)
            .map_err(storage)?;
        txn.commit().map_err(storage)
    }
}

impl Catalog {
    /// Every stream, by name.
    pub(crate) fn streams(&self) -> Result<Vec<(String, StreamRecord)>> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(STREAMS).map_err(storage)?;
        let mut out = Vec::new();
        for row in table.iter().map_err(storage)? {
            let (name, value) = row.map_err(storage)?;
            let record: StreamRecord = serde_json::from_slice(value.value()).map_err(storage)?;
            out.push((name.value().to_owned(), record));
        }
        Ok(out)
    }

    /// Creates or replaces a stream's record (durably).
    pub(crate) fn put_stream(&self, name: &str, record: &StreamRecord) -> Result<()> {
        let bytes = serde_json::to_vec(record).map_err(storage)?;
        let txn = self.db.begin_write().map_err(storage)?;
        txn.open_table(STREAMS)
            .map_err(storage)?
            .insert(name, bytes.as_slice())
            .map_err(storage)?;
        txn.commit().map_err(storage)
    }

    /// Removes a stream's record and every committed offset of its groups, in one transaction.
    pub(crate) fn remove_stream(&self, name: &str) -> Result<()> {
        let txn = self.db.begin_write().map_err(storage)?;
        txn.open_table(STREAMS)
            .map_err(storage)?
            .remove(name)
            .map_err(storage)?;
        {
            let mut offsets = txn.open_table(OFFSETS).map_err(storage)?;
            offsets
                .retain_in((name, "", 0)..=(name, "\u{10ffff}", u32::MAX), |_, _| false)
                .map_err(storage)?;
        }
        txn.open_table(STARTS)
            .map_err(storage)?
            .retain_in((name, 0)..=(name, u32::MAX), |_, _| false)
            .map_err(storage)?;
        txn.commit().map_err(storage)
    }

    /// Stores committed offsets of one group, all or nothing (durably).
    pub(crate) fn commit_offsets(
        &self,
        stream: &str,
        group: &str,
        offsets: &[(u32, CommittedOffset)],
    ) -> Result<()> {
        let txn = self.db.begin_write().map_err(storage)?;
        {
            let mut table = txn.open_table(OFFSETS).map_err(storage)?;
            for (partition, committed) in offsets {
                let bytes = serde_json::to_vec(committed).map_err(storage)?;
                table
                    .insert((stream, group, *partition), bytes.as_slice())
                    .map_err(storage)?;
            }
        }
        txn.commit().map_err(storage)
    }

    /// Records, durably, that a partition's records below `start` are deleted.
    pub(crate) fn set_partition_start(
        &self,
        stream: &str,
        partition: u32,
        start: u64,
    ) -> Result<()> {
        let txn = self.db.begin_write().map_err(storage)?;
        txn.open_table(STARTS)
            .map_err(storage)?
            .insert((stream, partition), start)
            .map_err(storage)?;
        txn.commit().map_err(storage)
    }

    /// The starts set with [`Catalog::set_partition_start`] for a stream's partitions.
    pub(crate) fn partition_starts(&self, stream: &str) -> Result<BTreeMap<u32, u64>> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(STARTS).map_err(storage)?;
        let mut out = BTreeMap::new();
        for row in table
            .range((stream, 0)..=(stream, u32::MAX))
            .map_err(storage)?
        {
            let (key, value) = row.map_err(storage)?;
            out.insert(key.value().1, value.value());
        }
        Ok(out)
    }

    /// The next Kafka producer id, durably taken (ids start at 1000, so that an id a client
    /// made up is unlikely to collide with a minted one).
    pub(crate) fn next_producer_id(&self) -> Result<i64> {
        let txn = self.db.begin_write().map_err(storage)?;
        let id = {
            let mut table = txn.open_table(COUNTERS).map_err(storage)?;
            let next = table
                .get(PRODUCER_IDS)
                .map_err(storage)?
                .map_or(1000, |v| v.value());
            table
                .insert(PRODUCER_IDS, next.saturating_add(1))
                .map_err(storage)?;
            next
        };
        txn.commit().map_err(storage)?;
        i64::try_from(id).map_err(|_| Error::new(ErrorKind::Internal, "producer ids ran out"))
    }

    /// Stores committed offsets of one group across streams, all or nothing (durably).
    pub(crate) fn commit_group_offsets(
        &self,
        group: &str,
        offsets: &[(String, u32, CommittedOffset)],
    ) -> Result<()> {
        let txn = self.db.begin_write().map_err(storage)?;
        {
            let mut table = txn.open_table(OFFSETS).map_err(storage)?;
            for (stream, partition, committed) in offsets {
                let bytes = serde_json::to_vec(committed).map_err(storage)?;
                table
                    .insert((stream.as_str(), group, *partition), bytes.as_slice())
                    .map_err(storage)?;
            }
        }
        txn.commit().map_err(storage)
    }

    /// The committed offsets of one group, by partition.
    pub(crate) fn group_offsets(
        &self,
        stream: &str,
        group: &str,
    ) -> Result<BTreeMap<u32, CommittedOffset>> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(OFFSETS).map_err(storage)?;
        let mut out = BTreeMap::new();
        for row in table
            .range((stream, group, 0)..=(stream, group, u32::MAX))
            .map_err(storage)?
        {
            let (key, value) = row.map_err(storage)?;
            let committed: CommittedOffset =
                serde_json::from_slice(value.value()).map_err(storage)?;
            out.insert(key.value().2, committed);
        }
        Ok(out)
    }

    /// Every committed offset on `stream` in one read: `(group, partition, offset)`, by group
    /// then partition (for metrics: one scan, not one read per group).
    pub(crate) fn stream_offsets(&self, stream: &str) -> Result<Vec<(String, u32, u64)>> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(OFFSETS).map_err(storage)?;
        let mut out = Vec::new();
        for row in table
            .range((stream, "", 0)..=(stream, "\u{10ffff}", u32::MAX))
            .map_err(storage)?
        {
            let (key, value) = row.map_err(storage)?;
            let (_, group, partition) = key.value();
            let committed: CommittedOffset =
                serde_json::from_slice(value.value()).map_err(storage)?;
            out.push((group.to_owned(), partition, committed.offset));
        }
        Ok(out)
    }

    /// The names of the groups that have committed offsets on `stream`.
    pub(crate) fn groups_with_offsets(&self, stream: &str) -> Result<Vec<String>> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(OFFSETS).map_err(storage)?;
        let mut out: Vec<String> = Vec::new();
        for row in table
            .range((stream, "", 0)..=(stream, "\u{10ffff}", u32::MAX))
            .map_err(storage)?
        {
            let (key, _) = row.map_err(storage)?;
            let group = key.value().1;
            if out.last().is_none_or(|last| last != group) {
                out.push(group.to_owned());
            }
        }
        Ok(out)
    }

    /// Every committed offset of a group, across streams: `(stream, partition, committed)`.
    pub(crate) fn offsets_of_group(
        &self,
        group: &str,
    ) -> Result<Vec<(String, u32, CommittedOffset)>> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(OFFSETS).map_err(storage)?;
        let mut out = Vec::new();
        for row in table.iter().map_err(storage)? {
            let (key, value) = row.map_err(storage)?;
            let (stream, g, partition) = key.value();
            if g == group {
                let committed: CommittedOffset =
                    serde_json::from_slice(value.value()).map_err(storage)?;
                out.push((stream.to_owned(), partition, committed));
            }
        }
        Ok(out)
    }

    /// The names of every group with a committed offset on any stream.
    pub(crate) fn groups_with_any_offsets(&self) -> Result<Vec<String>> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(OFFSETS).map_err(storage)?;
        let mut out = std::collections::BTreeSet::new();
        for row in table.iter().map_err(storage)? {
            let (key, _) = row.map_err(storage)?;
            out.insert(key.value().1.to_owned());
        }
        Ok(out.into_iter().collect())
    }

    /// Forgets every committed offset of one group.
    pub(crate) fn remove_group(&self, stream: &str, group: &str) -> Result<()> {
        let txn = self.db.begin_write().map_err(storage)?;
        txn.open_table(OFFSETS)
            .map_err(storage)?
            .retain_in((stream, group, 0)..=(stream, group, u32::MAX), |_, _| false)
            .map_err(storage)?;
        txn.commit().map_err(storage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_reopen() -> Result<()> {
        let dir = tempfile::tempdir().map_err(storage)?;
        let path = dir.path().join("catalog.redb");
        let record = QueueRecord {
            uid: 9,
            config: QueueConfig::default(),
            created_at: Timestamp(1),
            updated_at: Timestamp(2),
            tags: [("team".to_string(), "ops".to_string())].into(),
            attributes: BTreeMap::new(),
        };
        {
            let c = Catalog::open(&path)?;
            c.put("a", &record)?;
            c.put("b", &record)?;
            c.remove("a")?;
        }
        let c = Catalog::open(&path)?;
        assert_eq!(c.get("a")?, None);
        assert_eq!(c.get("b")?.as_ref(), Some(&record));
        assert_eq!(c.queues()?, vec![("b".to_string(), record)]);
        Ok(())
    }

    #[test]
    fn committed_offsets_survive_reopen_and_go_with_their_stream() -> Result<()> {
        let dir = tempfile::tempdir().map_err(storage)?;
        let path = dir.path().join("catalog.redb");
        let at = |offset| CommittedOffset {
            offset,
            metadata: None,
            committed_at: Timestamp(7),
        };
        {
            let c = Catalog::open(&path)?;
            let record = StreamRecord {
                config: StreamConfig::default(),
                created_at: Timestamp(1),
                updated_at: Timestamp(1),
            };
            c.put_stream("s", &record)?;
            c.put_stream("s2", &record)?;
            c.commit_offsets("s", "g", &[(0, at(5)), (1, at(9))])?;
            c.commit_offsets("s", "h", &[(0, at(1))])?;
            c.commit_offsets("s2", "g", &[(0, at(3))])?;
            c.commit_offsets("s", "g", &[(1, at(10))])?;
        }
        let c = Catalog::open(&path)?;
        let g = c.group_offsets("s", "g")?;
        assert_eq!(g.get(&0), Some(&at(5)));
        assert_eq!(g.get(&1), Some(&at(10)));
        assert_eq!(c.groups_with_offsets("s")?, vec!["g", "h"]);
        c.remove_group("s", "h")?;
        assert_eq!(c.groups_with_offsets("s")?, vec!["g"]);
        c.remove_stream("s")?;
        assert!(c.group_offsets("s", "g")?.is_empty());
        assert_eq!(c.group_offsets("s2", "g")?.len(), 1);
        assert_eq!(c.streams()?.len(), 1);
        Ok(())
    }

    #[test]
    fn records_written_before_tags_existed_still_read() -> Result<()> {
        let old = r#"{"uid":1,"config":{},"created_at":5,"updated_at":6}"#;
        let record: QueueRecord = serde_json::from_str(old).map_err(storage)?;
        assert!(record.tags.is_empty() && record.attributes.is_empty());
        Ok(())
    }
}
