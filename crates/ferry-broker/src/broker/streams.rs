//! The stream calls of [`Broker`]: admin, append, read, offsets, compaction.

use super::{Broker, invalid, io_error};
use crate::catalog::StreamRecord;
use crate::clock::wall_now;
use crate::error::{Error, ErrorKind, Result};
use crate::live_stream::{LiveStream, LogEnv, compact};
use crate::stream_types::*;
use crate::types::Upsert;
use ferry_core::stream::StreamConfig;
use ferry_core::{StreamName, Timestamp};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

/// The live streams by name. A plain lock, never held across an `.await`.
#[derive(Default)]
pub(super) struct Streams {
    live: RwLock<HashMap<String, Arc<LiveStream>>>,
}

impl Streams {
    pub(super) fn get(&self, name: &str) -> Option<Arc<LiveStream>> {
        self.live.read().ok()?.get(name).cloned()
    }

    fn insert(&self, stream: Arc<LiveStream>) {
        if let Ok(mut live) = self.live.write() {
            live.insert(stream.name.clone(), stream);
        }
    }

    fn remove(&self, name: &str) -> Option<Arc<LiveStream>> {
        self.live.write().ok()?.remove(name)
    }

    pub(super) fn all(&self) -> Vec<Arc<LiveStream>> {
        self.live
            .read()
            .map(|l| l.values().cloned().collect())
            .unwrap_or_default()
    }
}

impl Broker {
    fn stream_dir(&self, name: &str) -> PathBuf {
        self.inner.config.data_dir.join("streams").join(name)
    }

    fn log_env(&self) -> LogEnv<'_> {
        LogEnv {
            log_config: self.log_config(),
            flusher: &self.inner.flusher,
            storage: Arc::clone(&self.inner.storage),
            retention_interval: self.inner.config.retention_check_interval,
        }
    }

    /// Opens every stream in the catalog (at startup).
    pub(super) fn open_streams(&self) -> Result<usize> {
        std::fs::create_dir_all(self.inner.config.data_dir.join("streams"))
            .map_err(|e| io_error("create streams dir", e))?;
        let records = self.inner.catalog.streams()?;
        for (name, record) in &records {
            let starts = self.inner.catalog.partition_starts(name)?;
            let stream = LiveStream::open(
                name,
                &self.stream_dir(name),
                record.config.clone(),
                &self.log_env(),
                &starts,
            )?;
            self.inner.streams.insert(Arc::new(stream));
        }
        self.remove_orphan_stream_dirs(&records);
        Ok(records.len())
    }

    /// Deletes stream directories left by a deletion that crashed half-way.
    fn remove_orphan_stream_dirs(&self, records: &[(String, StreamRecord)]) {
        let Ok(dirs) = std::fs::read_dir(self.inner.config.data_dir.join("streams")) else {
            return;
        };
        for dir in dirs.flatten() {
            let name = dir.file_name().to_string_lossy().into_owned();
            if !records.iter().any(|(n, _)| *n == name) {
                tracing::warn!(stream = %name, "removing the directory of a deleted stream");
                let _ = std::fs::remove_dir_all(dir.path());
            }
        }
    }

    /// The live stream `name`.
    pub(super) fn stream(&self, name: &str) -> Result<Arc<LiveStream>> {
        self.check_open()?;
        self.inner
            .streams
            .get(name)
            .ok_or_else(|| Error::stream_not_found(name))
    }

    /// Creates the stream, or replaces the config of an existing one (partitions can grow,
    /// never shrink).
    ///
    /// # Errors
    /// `invalid_name`, `invalid_config`.
    pub async fn put_stream(&self, name: &str, config: StreamConfig) -> Result<Upsert> {
        self.check_stream_put(name, &config)?;
        let _admin = self.inner.admin.lock().await;
        match self.stream_record(name)? {
            Some(record) => {
                self.replace_stream_config(name, record, config).await?;
                Ok(Upsert::Updated)
            }
            None => {
                self.open_new_stream(name, config)?;
                Ok(Upsert::Created)
            }
        }
    }

    /// Creates a stream that does not exist yet.
    ///
    /// # Errors
    /// `invalid_name`, `invalid_config`, `conflict` if it exists.
    pub async fn create_stream(&self, name: &str, config: StreamConfig) -> Result<()> {
        self.check_stream_put(name, &config)?;
        let _admin = self.inner.admin.lock().await;
        if self.stream_record(name)?.is_some() {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!("stream {name:?} already exists"),
            ));
        }
        self.open_new_stream(name, config)
    }

    /// Changes an existing stream's config with `change`, which sees the current one; no
    /// other config change can come between.
    ///
    /// # Errors
    /// `stream_not_found`, `invalid_config`, or what `change` returns.
    pub async fn update_stream(
        &self,
        name: &str,
        change: impl FnOnce(&StreamConfig) -> Result<StreamConfig>,
    ) -> Result<StreamConfig> {
        self.check_open()?;
        let _admin = self.inner.admin.lock().await;
        let record = self
            .stream_record(name)?
            .ok_or_else(|| Error::stream_not_found(name))?;
        let config = change(&record.config)?;
        self.check_stream_put(name, &config)?;
        self.replace_stream_config(name, record, config.clone())
            .await?;
        Ok(config)
    }

    fn check_stream_put(&self, name: &str, config: &StreamConfig) -> Result<()> {
        self.check_open()?;
        StreamName::new(name)?;
        config
            .validate()
            .map_err(|e| Error::new(ErrorKind::InvalidConfig, e.to_string()))
    }

    fn stream_record(&self, name: &str) -> Result<Option<StreamRecord>> {
        Ok(self
            .inner
            .catalog
            .streams()?
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, r)| r))
    }

    /// Replaces an existing stream's config (the caller holds the admin lock).
    async fn replace_stream_config(
        &self,
        name: &str,
        record: StreamRecord,
        config: StreamConfig,
    ) -> Result<()> {
        record
            .config
            .check_update(&config)
            .map_err(|e| Error::new(ErrorKind::InvalidConfig, e.to_string()))?;
        let stream = self.stream(name)?;
        self.inner.catalog.put_stream(
            name,
            &StreamRecord {
                config: config.clone(),
                updated_at: wall_now(),
                ..record
            },
        )?;
        stream.add_partitions(config.partitions, &self.log_env())?;
        stream.set_config(config).await;
        Ok(())
    }

    /// Creates a stream (the caller holds the admin lock and checked it does not exist).
    fn open_new_stream(&self, name: &str, config: StreamConfig) -> Result<()> {
        super::remove_leftovers(&self.stream_dir(name))?;
        let now = wall_now();
        let record = StreamRecord {
            config: config.clone(),
            created_at: now,
            updated_at: now,
        };
        let stream = LiveStream::open(
            name,
            &self.stream_dir(name),
            config,
            &self.log_env(),
            &std::collections::BTreeMap::new(),
        )?;
        self.inner.catalog.put_stream(name, &record)?;
        self.inner.streams.insert(Arc::new(stream));
        tracing::info!(stream = name, "stream created");
        Ok(())
    }

    /// Every stream, by name.
    ///
    /// # Errors
    /// `internal` when the catalog cannot be read.
    pub fn list_streams(&self) -> Result<Vec<StreamSummary>> {
        Ok(self
            .inner
            .catalog
            .streams()?
            .into_iter()
            .map(|(name, r)| StreamSummary {
                name,
                config: r.config,
            })
            .collect())
    }

    /// The segment size of partitions whose stream does not set one.
    pub fn default_segment_bytes(&self) -> u64 {
        self.inner.config.segment_bytes
    }

    /// One stream's name and config, without asking its partitions anything.
    ///
    /// # Errors
    /// `stream_not_found`.
    pub fn stream_summary(&self, name: &str) -> Result<StreamSummary> {
        let live = self.stream(name)?;
        Ok(StreamSummary {
            name: name.to_owned(),
            config: StreamConfig::clone(&live.config()),
        })
    }

    /// One stream's config, partitions and groups.
    ///
    /// # Errors
    /// `stream_not_found`.
    pub async fn stream_info(&self, name: &str) -> Result<StreamInfo> {
        let stream = self.stream(name)?;
        let (_, record) = self
            .inner
            .catalog
            .streams()?
            .into_iter()
            .find(|(n, _)| n == name)
            .ok_or_else(|| Error::stream_not_found(name))?;
        let mut partitions = Vec::new();
        for (number, handle) in (0u32..).zip(stream.partitions()) {
            partitions.push(PartitionInfo {
                partition: number,
                ..handle.info().await?
            });
        }
        Ok(StreamInfo {
            name: name.to_owned(),
            config: record.config,
            created_at: record.created_at,
            updated_at: record.updated_at,
            partitions,
            groups: self.group_names(&stream)?,
        })
    }

    /// Deletes the stream, its records and its groups' offsets.
    ///
    /// # Errors
    /// `stream_not_found`.
    pub async fn delete_stream(&self, name: &str) -> Result<()> {
        self.check_open()?;
        let _admin = self.inner.admin.lock().await;
        self.stream(name)?;
        let output = ferry_core::queue::Output::Stream(name.to_owned());
        if let Some(source) = self.resequence_source_of(&output)? {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!("stream {name:?} is the resequence output of {source:?}"),
            ));
        }
        let Some(stream) = self.inner.streams.remove(name) else {
            return Err(Error::stream_not_found(name));
        };
        for partition in stream.partitions() {
            partition.shutdown().await?;
        }
        self.inner.catalog.remove_stream(name)?;
        std::fs::remove_dir_all(self.stream_dir(name))
            .map_err(|e| io_error("remove stream dir", e))?;
        tracing::info!(stream = name, "stream deleted");
        Ok(())
    }

    /// Appends records; answers where each went, once all are durable. With
    /// `expected_offset`, every record must go to one partition whose next offset is exactly
    /// that, or nothing is written.
    ///
    /// # Errors
    /// `stream_not_found`, `partition_not_found`, `invalid_request` (empty or oversized batch,
    /// keyless record on a compacted stream), `message_too_large`, `offset_mismatch` (with the
    /// actual next offset in [`Error::next_offset`]).
    pub async fn append(
        &self,
        stream: &str,
        records: Vec<NewRecord>,
        expected_offset: Option<u64>,
    ) -> Result<Vec<AppendedRecord>> {
        let live = self.stream(stream)?;
        super::check_batch_len(
            records.len(),
            self.inner.config.max_batch_records,
            "records",
        )?;
        live.append(records, expected_offset, wall_now()).await
    }

    /// Reads records of one partition.
    ///
    /// # Errors
    /// `stream_not_found` (also when the stream is deleted during a long poll),
    /// `partition_not_found`, `offset_out_of_range` (past the end),
    /// `invalid_request` (a wait longer than the broker allows).
    pub async fn read(
        &self,
        stream: &str,
        partition: u32,
        options: ReadOptions,
    ) -> Result<ReadOutcome> {
        let live = self.stream(stream)?;
        let handle = live.partition(partition)?;
        self.check_wait(options.wait)?;
        let stop = self.inner.stopping.subscribe();
        let read = handle
            .read_records(
                options.from,
                options.max_records,
                options.max_bytes,
                options.wait,
                &stop,
            )
            .await;
        match read {
            // The partition stopped under a (long-polling) read because the stream was deleted
            // (and maybe created again).
            Err(e)
                if e.kind == ErrorKind::Unavailable
                    && !self
                        .inner
                        .streams
                        .get(stream)
                        .is_some_and(|now| Arc::ptr_eq(&now, &live)) =>
            {
                Err(Error::stream_not_found(stream))
            }
            read => read,
        }
    }

    /// One partition's extent.
    ///
    /// # Errors
    /// `stream_not_found`, `partition_not_found`.
    pub async fn partition_info(&self, stream: &str, partition: u32) -> Result<PartitionInfo> {
        let info = self.stream(stream)?.partition(partition)?.info().await?;
        Ok(PartitionInfo { partition, ..info })
    }

    /// The offset of the first record at or after `timestamp` in a partition, if any.
    ///
    /// # Errors
    /// `stream_not_found`, `partition_not_found`.
    pub async fn offset_for_timestamp(
        &self,
        stream: &str,
        partition: u32,
        timestamp: Timestamp,
    ) -> Result<Option<u64>> {
        let found = self
            .stream(stream)?
            .partition(partition)?
            .record_at_time(timestamp)
            .await?;
        Ok(found.map(|(offset, _)| offset))
    }

    /// Compacts every partition of a compacted stream now (it also happens in the
    /// background).
    ///
    /// # Errors
    /// `stream_not_found`; `invalid_request` if the stream's cleanup does not compact.
    pub async fn compact_stream(&self, stream: &str) -> Result<CompactionOutcome> {
        let live = self.stream(stream)?;
        let config = live.config();
        if !config.cleanup.compacts() {
            return Err(invalid(format!(
                "stream {stream:?} does not compact (cleanup is {})",
                config.cleanup
            )));
        }
        let mut total = CompactionOutcome::default();
        let mut failed = None;
        for partition in live.partitions() {
            match compact(&partition, Arc::clone(&config), wall_now()).await {
                Ok(outcome) => {
                    total.segments_rewritten += outcome.segments_rewritten;
                    total.records_removed += outcome.records_removed;
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        live.counters.on_compaction(&total);
        match failed {
            Some(e) => Err(e),
            None => Ok(total),
        }
    }

    /// Compacts the compacted streams (the background job's round).
    pub(super) async fn compact_all(&self) {
        for live in self.inner.streams.all() {
            if !live.config().cleanup.compacts() {
                continue;
            }
            if let Err(e) = self.compact_stream(&live.name).await {
                tracing::warn!(stream = %live.name, error = %e, "compaction failed");
            }
        }
    }
}
