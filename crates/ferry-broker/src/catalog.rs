//! The catalog: which queues exist and their configs, in a small embedded ACID store (redb).
//!
//! The catalog lists queues; each queue's own log is the authority for its config (every change
//! is a `Configure` record), and recovery repairs the catalog from the log if the two disagree.

use crate::error::{Error, ErrorKind, Result};
use ferry_core::Timestamp;
use ferry_core::queue::QueueConfig;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

const QUEUES: TableDefinition<&str, &[u8]> = TableDefinition::new("queues");

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
    fn records_written_before_tags_existed_still_read() -> Result<()> {
        let old = r#"{"uid":1,"config":{},"created_at":5,"updated_at":6}"#;
        let record: QueueRecord = serde_json::from_str(old).map_err(storage)?;
        assert!(record.tags.is_empty() && record.attributes.is_empty());
        Ok(())
    }
}
