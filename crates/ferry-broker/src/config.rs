//! The broker's own settings (the binary maps its config file, env and flags onto these).

use ferry_log::FsyncPolicy;
use std::path::PathBuf;
use std::time::Duration;

/// Settings of one broker instance.
#[derive(Clone, Debug)]
pub struct BrokerConfig {
    /// Where the catalog and every queue's log live.
    pub data_dir: PathBuf,
    /// When a publish counts as durable (default: fsync before replying).
    pub fsync: FsyncPolicy,
    /// Size at which a queue's log starts a new segment.
    pub segment_bytes: u64,
    /// Most messages in one send batch.
    pub max_batch_messages: usize,
    /// Most messages one receive may return.
    pub max_receive_messages: u32,
    /// Longest long-poll wait a receive may ask for.
    pub max_wait: Duration,
    /// Most records in one stream append.
    pub max_batch_records: usize,
    /// How often each partition checks what retention removes.
    pub retention_check_interval: Duration,
    /// How often compacted streams are compacted in the background.
    pub compaction_interval: Duration,
    /// How often consumer-group members whose session ran out are removed.
    pub group_sweep_interval: Duration,
    /// How long the first rebalance of an empty Kafka consumer group waits for more members
    /// (Kafka's `group.initial.rebalance.delay.ms`, 3 s there). Ferry's default is none:
    /// on one node a rebalance is cheap, and consumers start consuming at once.
    pub group_initial_rebalance_delay: Duration,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            data_dir: PathBuf::from("ferry-data"),
            fsync: FsyncPolicy::Always,
            segment_bytes: 64 * 1024 * 1024,
            max_batch_messages: 1000,
            max_receive_messages: 1000,
            max_wait: Duration::from_secs(300),
            max_batch_records: 10_000,
            retention_check_interval: Duration::from_secs(30),
            compaction_interval: Duration::from_secs(60),
            group_sweep_interval: Duration::from_millis(100),
            group_initial_rebalance_delay: Duration::ZERO,
        }
    }
}
