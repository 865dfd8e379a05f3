//! A live stream: its partitions (one task and one log each), its config, and its consumer
//! groups. Appends are encoded into batches by the caller's task, so the partition tasks only
//! stamp offsets, write and sync.

mod compaction;
mod counters;
mod groups;
mod partition;
mod read;

pub(crate) use compaction::compact;
pub(crate) use counters::StreamCounters;
pub(crate) use groups::Groups;
pub(crate) use partition::{EncodedBatch, PartitionHandle};
pub(crate) use read::first_timestamp;

use crate::error::{Error, ErrorKind, Result};
use crate::stream_types::{AppendedRecord, NewRecord};
use ferry_core::Timestamp;
use ferry_core::stream::{
    StreamConfig, StreamRecord, encode_batch, mark_origin, partition_for_key,
};
use ferry_log::io::Storage;
use ferry_log::{Flusher, Log, LogConfig};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// One live stream.
pub(crate) struct LiveStream {
    pub(crate) name: String,
    dir: PathBuf,
    config: RwLock<Arc<StreamConfig>>,
    partitions: RwLock<Vec<PartitionHandle>>,
    /// Where keyless records go next (each request sticks to one partition).
    sticky: AtomicU32,
    /// The consumer groups' members and positions.
    pub(crate) groups: Groups,
    /// Held by a native offset commit from its checks to its catalog write, so that commits
    /// reach the catalog in the order they were checked: one checked before a rebalance can
    /// never land after the new owner's (the catalog has one writer anyway).
    pub(crate) commits: tokio::sync::Mutex<()>,
    /// Appended batches and compaction runs, for `/metrics`.
    pub(crate) counters: StreamCounters,
}

/// How partitions' logs are opened.
pub(crate) struct LogEnv<'a> {
    pub(crate) log_config: LogConfig,
    pub(crate) flusher: &'a Flusher,
    pub(crate) storage: Arc<dyn Storage>,
    pub(crate) retention_interval: Duration,
}

impl LiveStream {
    /// Opens (recovering, or creating) every partition of a stream; `starts` are the
    /// partitions' starts clients moved forward.
    pub(crate) fn open(
        name: &str,
        dir: &Path,
        config: StreamConfig,
        env: &LogEnv<'_>,
        starts: &BTreeMap<u32, u64>,
    ) -> Result<LiveStream> {
        let config = Arc::new(config);
        let stream = LiveStream {
            name: name.to_owned(),
            dir: dir.to_path_buf(),
            config: RwLock::new(Arc::clone(&config)),
            partitions: RwLock::new(Vec::new()),
            sticky: AtomicU32::new(0),
            groups: Groups::new(config.partitions),
            commits: tokio::sync::Mutex::new(()),
            counters: StreamCounters::default(),
        };
        let mut opened = Vec::new();
        for partition in 0..config.partitions {
            let floor = starts.get(&partition).copied().unwrap_or(0);
            opened.push(stream.open_partition(partition, env, floor)?);
        }
        if let Ok(mut partitions) = stream.partitions.write() {
            *partitions = opened;
        }
        Ok(stream)
    }

    fn open_partition(
        &self,
        partition: u32,
        env: &LogEnv<'_>,
        start_floor: u64,
    ) -> Result<PartitionHandle> {
        let config = self.config();
        let mut log_config = env.log_config.clone();
        if let Some(bytes) = config.segment_bytes {
            log_config.segment_bytes = bytes;
        }
        let dir = self.dir.join(partition.to_string());
        let log = Log::open_with_storage(&dir, log_config, env.flusher, Arc::clone(&env.storage))?;
        let report = log.recovery();
        if report.truncated_bytes > 0 {
            tracing::warn!(stream = %self.name, partition, truncated_bytes = report.truncated_bytes, "recovery cut a torn tail");
        }
        let label = format!("stream {:?} partition {partition}", self.name);
        Ok(partition::start(
            label,
            log,
            config,
            env.retention_interval,
            start_floor,
        ))
    }

    /// Opens partitions up to `count` (never fewer than there are).
    pub(crate) fn add_partitions(&self, count: u32, env: &LogEnv<'_>) -> Result<()> {
        let have = u32::try_from(self.partitions().len()).unwrap_or(u32::MAX);
        let mut opened = Vec::new();
        for partition in have..count {
            opened.push(self.open_partition(partition, env, 0)?);
        }
        if let Ok(mut partitions) = self.partitions.write() {
            partitions.extend(opened);
        }
        self.groups.set_partitions(count);
        Ok(())
    }

    /// The current config.
    pub(crate) fn config(&self) -> Arc<StreamConfig> {
        self.config
            .read()
            .map(|c| Arc::clone(&c))
            .unwrap_or_else(|poisoned| Arc::clone(&poisoned.into_inner()))
    }

    /// Replaces the config and tells every partition.
    pub(crate) async fn set_config(&self, config: StreamConfig) {
        let config = Arc::new(config);
        if let Ok(mut current) = self.config.write() {
            *current = Arc::clone(&config);
        }
        for partition in self.partitions() {
            partition.configure(Arc::clone(&config)).await;
        }
    }

    /// Every partition, by number.
    pub(crate) fn partitions(&self) -> Vec<PartitionHandle> {
        self.partitions
            .read()
            .map(|p| p.clone())
            .unwrap_or_default()
    }

    /// One partition.
    pub(crate) fn partition(&self, partition: u32) -> Result<PartitionHandle> {
        let partitions = self.partitions();
        usize::try_from(partition)
            .ok()
            .and_then(|p| partitions.get(p).cloned())
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::PartitionNotFound,
                    format!(
                        "stream {:?} has no partition {partition}; it has partitions 0..{}",
                        self.name,
                        partitions.len()
                    ),
                )
            })
    }

    /// Appends records, grouped into one batch per partition; answers once all are durable.
    /// Within a partition the batch is all or nothing; a request spanning partitions is not
    /// atomic across them (as in Kafka).
    pub(crate) async fn append(
        &self,
        records: Vec<NewRecord>,
        expected_offset: Option<u64>,
        now: Timestamp,
    ) -> Result<Vec<AppendedRecord>> {
        let config = self.config();
        let targets = self.route(&records, &config)?;
        if expected_offset.is_some() && targets.windows(2).any(|w| w[0] != w[1]) {
            return Err(Error::new(
                ErrorKind::InvalidRequest,
                "a conditional append (expected_offset) must put every record in one partition",
            ));
        }
        let mut by_partition: Vec<(u32, Vec<StreamRecord>)> = Vec::new();
        for (record, &partition) in records.into_iter().zip(&targets) {
            let stream_record = StreamRecord {
                timestamp_ms: record.timestamp.unwrap_or(now).as_millis(),
                key: record.key,
                value: record.value,
                headers: record.headers,
            };
            match by_partition.iter_mut().find(|(p, _)| *p == partition) {
                Some((_, batch)) => batch.push(stream_record),
                None => by_partition.push((partition, vec![stream_record])),
            }
        }
        let mut encoded = Vec::with_capacity(by_partition.len());
        for (partition, batch) in &by_partition {
            encoded.push((self.partition(*partition)?, encode(batch)?));
        }
        let appends = encoded
            .into_iter()
            .map(|(handle, batch)| async move { handle.append(batch, expected_offset).await });
        let bases = futures_util::future::join_all(appends).await;
        self.counters
            .on_batches(bases.iter().filter(|b| b.is_ok()).count() as u64);
        let mut next_index: Vec<u64> = vec![0; by_partition.len()];
        let mut out = Vec::with_capacity(targets.len());
        for &partition in &targets {
            let slot = by_partition
                .iter()
                .position(|(p, _)| *p == partition)
                .unwrap_or_default();
            let base = match bases.get(slot) {
                Some(Ok(base)) => *base,
                Some(Err(e)) => return Err(e.clone()),
                None => return Err(Error::new(ErrorKind::Internal, "append lost a partition")),
            };
            let index = next_index.get_mut(slot).map_or(0, |i| {
                let this = *i;
                *i += 1;
                this
            });
            out.push(AppendedRecord {
                partition,
                offset: base + index,
            });
        }
        Ok(out)
    }

    /// Appends results a resequencing queue released (`origin`: its origin id), each with its
    /// release number, in release order. A record goes to its partition if it names one, else
    /// a keyless one to partition 0 and a keyed one by its key, so each order key stays in one
    /// partition and in order. A partition is first
    /// asked which releases it already holds (a hand-over repeated after a crash), and only
    /// later ones are sent, as one batch marked with the last release number.
    pub(crate) async fn append_released(
        &self,
        origin: i64,
        records: Vec<(u64, NewRecord)>,
        now: Timestamp,
    ) -> Result<()> {
        let config = self.config();
        let (releases, mut records): (Vec<u64>, Vec<NewRecord>) = records.into_iter().unzip();
        for record in &mut records {
            if record.key.is_none() && record.partition.is_none() {
                record.partition = Some(0);
            }
        }
        let targets = self.route(&records, &config)?;
        let mut by_partition: BTreeMap<u32, Vec<(u64, NewRecord)>> = BTreeMap::new();
        for ((release, record), partition) in releases.into_iter().zip(records).zip(targets) {
            by_partition
                .entry(partition)
                .or_default()
                .push((release, record));
        }
        for (partition, records) in by_partition {
            let handle = self.partition(partition)?;
            let mark = handle.origin_mark(origin).await?;
            let fresh: Vec<(u64, NewRecord)> =
                records.into_iter().filter(|(n, _)| *n > mark).collect();
            let Some(&(last, _)) = fresh.last() else {
                continue;
            };
            let stream_records: Vec<StreamRecord> = fresh
                .into_iter()
                .map(|(_, r)| StreamRecord {
                    timestamp_ms: r.timestamp.unwrap_or(now).as_millis(),
                    key: r.key,
                    value: r.value,
                    headers: r.headers,
                })
                .collect();
            let mut batch = encode(&stream_records)?;
            mark_origin(&mut batch.bytes, origin, last)
                .map_err(|e| Error::new(ErrorKind::Internal, e.to_string()))?;
            batch.origin = Some((origin, last));
            handle.append(batch, None).await?;
            self.counters.on_batches(1);
        }
        Ok(())
    }

    /// The partition of every record: explicit, else by key, else the sticky one.
    fn route(&self, records: &[NewRecord], config: &StreamConfig) -> Result<Vec<u32>> {
        let count = config.partitions;
        let sticky = self.sticky.fetch_add(1, Ordering::Relaxed) % count.max(1);
        records
            .iter()
            .enumerate()
            .map(|(i, record)| {
                check_record(&self.name, i, record, config)?;
                match (record.partition, &record.key) {
                    (Some(p), _) if p < count => Ok(p),
                    (Some(p), _) => Err(Error::new(
                        ErrorKind::PartitionNotFound,
                        format!(
                            "record {i}: stream {:?} has no partition {p}; it has partitions 0..{count}",
                            self.name
                        ),
                    )),
                    (None, Some(key)) => Ok(partition_for_key(key, count)),
                    (None, None) => Ok(sticky),
                }
            })
            .collect()
    }
}

/// Refuses a record the stream cannot take: too large, or keyless on a compacted stream.
pub(crate) fn check_record(
    stream: &str,
    index: usize,
    record: &NewRecord,
    config: &StreamConfig,
) -> Result<()> {
    if config.cleanup.compacts() && record.key.is_none() {
        return Err(Error::new(
            ErrorKind::InvalidRequest,
            format!("record {index}: stream {stream:?} is compacted, so every record needs a key"),
        ));
    }
    let size = record.key.as_ref().map_or(0, Vec::len)
        + record.value.as_ref().map_or(0, Vec::len)
        + record
            .headers
            .iter()
            .map(|(name, value)| name.len() + value.as_ref().map_or(0, Vec::len))
            .sum::<usize>();
    let max = usize::try_from(config.max_record_bytes).unwrap_or(usize::MAX);
    if size > max {
        return Err(Error::new(
            ErrorKind::MessageTooLarge,
            format!(
                "record {index}: {size} bytes of key, value and headers exceed the stream's max_record_bytes ({max})"
            ),
        ));
    }
    Ok(())
}

fn encode(records: &[StreamRecord]) -> Result<EncodedBatch> {
    let mut bytes = Vec::with_capacity(64 + records.len() * 32);
    encode_batch(0, records, &mut bytes)
        .map_err(|e| Error::new(ErrorKind::InvalidRequest, format!("records: {e}")))?;
    Ok(EncodedBatch {
        bytes,
        span: u32::try_from(records.len()).unwrap_or(u32::MAX),
        max_timestamp: Timestamp(records.iter().map(|r| r.timestamp_ms).max().unwrap_or(0)),
        producer: None,
        origin: None,
    })
}
