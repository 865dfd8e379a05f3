//! Crash safety of the Kafka front end against the real binary: idempotent producers send
//! batches (acks=-1, every compression) until `kill -9`; after a restart every acknowledged
//! batch is readable at its acknowledged offset with the same bytes and records, offsets are
//! dense, nothing is stored twice, and each producer's state is rebuilt from the log (a retry
//! of its last acknowledged batch is a duplicate, its next sequence is accepted, a gap is not).

mod common;
#[path = "../../ferry-kafka/tests/common/client.rs"]
mod kafka;

use common::{DataDir, Server, runtime};
use ferry_core::stream::{Compression, StreamRecord, decode_batch};
use kafka::*;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const TOPIC: &str = "crash";
const PRODUCERS: usize = 4;
const PARTITIONS: usize = 3;
const RECORDS_PER_BATCH: usize = 10;
/// Acknowledged batches to wait for before pulling the plug.
const ACKED_BEFORE_KILL: usize = 300;
const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;

/// One batch a producer sent to a partition.
#[derive(Clone, Debug)]
struct Sent {
    partition: usize,
    base_sequence: i32,
    bytes: Vec<u8>,
}

/// What one producer did before the server went away.
#[derive(Debug, Default)]
struct Producer {
    id: i64,
    /// The next sequence per partition after the acknowledged batches.
    next_sequence: [i32; PARTITIONS],
    /// Acknowledged batches and the base offset each was given.
    acked: Vec<(Sent, i64)>,
    /// The batch sent but not answered when the connection died.
    in_flight: Option<Sent>,
}

fn wire(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Produces until the connection dies; returns what was acknowledged.
async fn produce_until_killed(addr: SocketAddr, index: usize, acked: Arc<AtomicUsize>) -> Producer {
    let mut conn = Conn::connect(addr).await;
    let mut producer = Producer {
        id: init_producer_id(&mut conn).await,
        ..Producer::default()
    };
    for n in 0usize.. {
        let partition = (n + index) % PARTITIONS;
        let base_sequence = producer.next_sequence[partition];
        let records = records(
            &format!("p{index}-n{n}"),
            RECORDS_PER_BATCH,
            1_700_000_000_000 + n as u64,
        );
        let compression = Compression::ALL[n % Compression::ALL.len()];
        let bytes = idempotent(batch(&records, compression), producer.id, 0, base_sequence);
        let sent = Sent {
            partition,
            base_sequence,
            bytes: bytes.clone(),
        };
        producer.in_flight = Some(sent.clone());
        let request = produce(TOPIC, wire(partition), -1, bytes);
        let Some(response) = conn.try_call(9, &request).await else {
            return producer;
        };
        let answer = produced(&response);
        assert_eq!(
            answer.error_code, 0,
            "producer {index} batch {n}: {:?}",
            answer.error_message
        );
        producer.acked.push((sent, answer.base_offset));
        producer.in_flight = None;
        producer.next_sequence[partition] += wire(RECORDS_PER_BATCH);
        acked.fetch_add(1, Ordering::SeqCst);
    }
    producer
}

/// Every stored batch of a partition, by base offset, read by Fetch from offset 0.
async fn stored_batches(conn: &mut Conn, partition: usize) -> BTreeMap<i64, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut next = 0i64;
    loop {
        let response = conn.call(12, &fetch(TOPIC, wire(partition), next, 0)).await;
        let t = some(response.responses.first(), "fetch topic");
        let p = some(t.partitions.first(), "fetch partition");
        assert_eq!(p.error_code, 0, "fetch partition {partition} at {next}");
        let records = some(p.records.clone(), "records");
        if records.is_empty() {
            assert_eq!(next, p.high_watermark, "partition {partition} ends early");
            return out;
        }
        for raw in raw_batches(&records) {
            let batch = ok(decode_batch(raw), "stored batch");
            let base = i64::try_from(batch.header.base_offset).unwrap_or(i64::MAX);
            assert_eq!(
                base, next,
                "partition {partition}: a gap or overlap at {next}"
            );
            next = i64::try_from(batch.header.next_offset()).unwrap_or(i64::MAX);
            out.insert(base, raw.to_vec());
        }
    }
}

/// The records of one batch, without their offsets.
fn records_of(bytes: &[u8]) -> Vec<StreamRecord> {
    ok(decode_batch(bytes), "batch")
        .records
        .into_iter()
        .map(|(_, r)| r)
        .collect()
}

/// Asserts `stored` is `sent` as the broker keeps it: the same bytes but for the base offset
/// (assigned on append) and the partition leader epoch, and the same records.
fn assert_same_batch(stored: &[u8], sent: &[u8], what: &str) {
    assert_eq!(stored.len(), sent.len(), "{what}: length");
    assert_eq!(stored[8..12], sent[8..12], "{what}: batch length");
    assert_eq!(
        stored[16..],
        sent[16..],
        "{what}: bytes from the magic byte on"
    );
    assert_eq!(records_of(stored), records_of(sent), "{what}: records");
}

/// (producer id, base sequence) of a stored batch.
fn producer_of(bytes: &[u8]) -> (i64, i32) {
    let header = ok(decode_batch(bytes), "batch").header;
    (header.producer_id, header.base_sequence)
}

#[test]
fn kill_9_during_idempotent_produces_loses_and_duplicates_nothing() {
    let dir = DataDir::new();
    let rt = runtime();
    let server = Server::start(&dir, &[]);
    let addr = some(server.kafka_addr, "kafka listener");
    let acked = Arc::new(AtomicUsize::new(0));
    let tasks = rt.block_on(async {
        let mut admin = Conn::connect(addr).await;
        create_topic(&mut admin, TOPIC, wire(PARTITIONS), &[]).await;
        let tasks: Vec<_> = (0..PRODUCERS)
            .map(|p| tokio::spawn(produce_until_killed(addr, p, Arc::clone(&acked))))
            .collect();
        let started = Instant::now();
        while acked.load(Ordering::SeqCst) < ACKED_BEFORE_KILL {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "load did not get going"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        tasks
    });
    let server = server.crash_restart();
    let producers: Vec<Producer> = rt.block_on(async {
        let mut out = Vec::new();
        for task in tasks {
            let done = tokio::time::timeout(PATIENCE, task).await;
            out.push(ok(ok(done, "producer did not stop"), "producer task"));
        }
        out
    });
    let addr = some(server.kafka_addr, "kafka listener");

    rt.block_on(async {
        let mut conn = Conn::connect(addr).await;
        let mut stored: Vec<BTreeMap<i64, Vec<u8>>> = Vec::new();
        for partition in 0..PARTITIONS {
            let batches = stored_batches(&mut conn, partition).await;
            // Nothing stored twice.
            let mut seen = BTreeSet::new();
            for bytes in batches.values() {
                assert!(
                    seen.insert(producer_of(bytes)),
                    "partition {partition}: a batch stored twice"
                );
            }
            stored.push(batches);
        }
        // Every acknowledged batch, where it was acknowledged, as it was sent.
        let mut total = 0;
        for (index, producer) in producers.iter().enumerate() {
            for (sent, offset) in &producer.acked {
                let found = some(
                    stored[sent.partition].get(offset),
                    &format!(
                        "producer {index}: acknowledged batch at {}/{offset}",
                        sent.partition
                    ),
                );
                assert_same_batch(
                    found,
                    &sent.bytes,
                    &format!("producer {index} at {}/{offset}", sent.partition),
                );
                total += 1;
            }
        }
        assert!(total >= ACKED_BEFORE_KILL, "{total} acknowledged");

        // Producer state is rebuilt from the log.
        for (index, producer) in producers.iter().enumerate() {
            let (last, last_offset) = some(producer.acked.last(), "an acknowledged batch");
            let partition = wire(last.partition);
            let end = end_offset(&mut conn, TOPIC, partition).await;
            // A retry of the last acknowledged batch: the original offset, nothing appended.
            let retry = conn
                .call(9, &produce(TOPIC, partition, -1, last.bytes.clone()))
                .await;
            let answer = produced(&retry);
            assert_eq!(
                (answer.error_code, answer.base_offset),
                (0, *last_offset),
                "producer {index}: retry of its last batch"
            );
            assert_eq!(
                end_offset(&mut conn, TOPIC, partition).await,
                end,
                "producer {index}: the retry was appended"
            );

            // The batch that was in flight: stored at most once, whether it made it or not.
            let mut next_sequence = producer.next_sequence;
            if let Some(pending) = &producer.in_flight {
                let p = wire(pending.partition);
                let end = end_offset(&mut conn, TOPIC, p).await;
                let before = stored[pending.partition]
                    .iter()
                    .find(|(_, b)| producer_of(b) == (producer.id, pending.base_sequence))
                    .map(|(o, _)| *o);
                let response = conn
                    .call(9, &produce(TOPIC, p, -1, pending.bytes.clone()))
                    .await;
                let answer = produced(&response);
                assert_eq!(
                    answer.error_code, 0,
                    "producer {index}: resending its in-flight batch"
                );
                let grown = end_offset(&mut conn, TOPIC, p).await - end;
                match before {
                    Some(offset) => assert_eq!((answer.base_offset, grown), (offset, 0)),
                    None => {
                        assert_eq!((answer.base_offset, grown), (end, RECORDS_PER_BATCH as i64))
                    }
                }
                next_sequence[pending.partition] += wire(RECORDS_PER_BATCH);
            }

            // The next sequence is accepted; a gap is refused (the producer is known).
            let sequence = next_sequence[last.partition];
            let fresh = records(&format!("p{index}-after"), 3, 1_800_000_000_000);
            let end = end_offset(&mut conn, TOPIC, partition).await;
            let gap = idempotent(
                batch(&fresh, Compression::None),
                producer.id,
                0,
                sequence + 1,
            );
            let response = conn.call(9, &produce(TOPIC, partition, -1, gap)).await;
            assert_eq!(
                produced(&response).error_code,
                OUT_OF_ORDER_SEQUENCE_NUMBER,
                "producer {index}: a gap"
            );
            let next = idempotent(batch(&fresh, Compression::None), producer.id, 0, sequence);
            let response = conn.call(9, &produce(TOPIC, partition, -1, next)).await;
            let answer = produced(&response);
            assert_eq!(
                (answer.error_code, answer.base_offset),
                (0, end),
                "producer {index}: its next batch"
            );
        }
    });
}
