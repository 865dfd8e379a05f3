//! Event streams, Kafka-style: configuration, the record batch format, partitioning and
//! compaction planning. Pure code: no I/O, no clock.
//!
//! A **stream** is a named, append-only sequence of records split into
//! [`partitions`](StreamConfig::partitions). Each partition is a log on its own, ordered and
//! addressed by **offset**: the first record of a partition is offset 0 and every record gets
//! the next one. Records with the same key go to the same partition
//! ([`partition_for_key`], Kafka's murmur2), so a key's records stay in order.
//!
//! **One log record holds one batch.** What a producer sends together is stored as a single
//! Kafka v2 record batch ([`encode_batch`]), so the Kafka front end can answer a fetch with
//! the stored bytes. A batch whose header says `base_offset = b` and `last_offset_delta = d`
//! spans offsets `b ..= b + d` ([`BatchHeader::span`] offsets in all); the next batch starts
//! at `b + d + 1` ([`BatchHeader::next_offset`]). Each record inside sits at `b` plus its own
//! offset delta. A producer's batch fills its span densely; after compaction a batch keeps
//! its span but may hold fewer records, leaving gaps a reader skips.
//!
//! ```
//! use ferry_core::stream::{StreamRecord, decode_batch, encode_batch, partition_for_key};
//!
//! let records = vec![
//!     StreamRecord { timestamp_ms: 1_700_000_000_000, key: Some(b"user-1".to_vec()),
//!                    value: Some(b"signed up".to_vec()), headers: vec![] },
//!     StreamRecord { timestamp_ms: 1_700_000_000_005, key: Some(b"user-1".to_vec()),
//!                    value: None, headers: vec![] }, // a tombstone
//! ];
//! let mut stored = Vec::new();
//! encode_batch(42, &records, &mut stored)?;
//! let batch = decode_batch(&stored)?;
//! assert_eq!(batch.header.span(), 2);
//! assert_eq!(batch.records[1].0, 43);
//! assert!(partition_for_key(b"user-1", 6) < 6);
//! # Ok::<(), ferry_core::stream::BatchError>(())
//! ```

mod batch;
pub mod classic_group;
mod compaction;
mod compression;
mod config;
pub mod group;
mod origin;
mod partition;
mod partitioner;
mod producer;
mod retention;

pub use batch::{
    BATCH_HEADER_BYTES, BatchError, BatchHeader, BatchSummary, DecodedBatch, StreamRecord,
    TimestampType, check_batch, decode_batch, decode_header, encode_batch, encode_batch_with,
    record_size, set_base_offset, set_producer_fields,
};
pub use compaction::{Compacted, KeyIndex, compact_batch};
pub use compression::{Compression, MAX_DECOMPRESSED_BYTES};
pub use config::{
    Cleanup, InvalidStreamConfig, MAX_MAX_RECORD_BYTES, MAX_PARTITIONS, MAX_RETENTION_BYTES,
    MAX_SEGMENT_BYTES, MAX_STREAM_RETENTION_MS, MIN_MAX_RECORD_BYTES, MIN_RETENTION_BYTES,
    MIN_SEGMENT_BYTES, MIN_STREAM_RETENTION_MS, StreamConfig,
};
pub use origin::{MAX_RELEASE, mark_origin, origin_of};
pub use partition::{OffsetError, PartitionState, ReadStart};
pub use partitioner::{murmur2, partition_for_key};
pub use producer::{
    MAX_PRODUCERS_PER_PARTITION, ProducerBatch, ProducerError, ProducerStates, ProducerSummary,
    RETAINED_BATCHES, Verdict,
};
pub use retention::{SegmentExtent, retention_cutoff};
