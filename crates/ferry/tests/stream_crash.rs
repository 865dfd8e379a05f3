//! Crash safety of streams against the real binary: `kill -9` during appends, restart, and
//! check that every answered record is readable at the offset it was given, with no gaps and
//! no duplicates.

mod common;

use common::{DataDir, Server, raw, runtime};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PRODUCERS: usize = 4;
const PARTITIONS: u64 = 3;
const BATCH: usize = 50;
/// Answered records to wait for before pulling the plug.
const ANSWERED_BEFORE_KILL: usize = 10_000;

/// (partition, offset) → value of every answered record.
type Answered = Arc<Mutex<BTreeMap<(u64, u64), String>>>;

fn lock(answered: &Answered) -> std::sync::MutexGuard<'_, BTreeMap<(u64, u64), String>> {
    answered
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Appends batches until the server goes away; records where every answered record went.
async fn produce(url: String, producer: usize, answered: Answered) {
    let http = raw();
    for batch in 0.. {
        let values: Vec<String> = (0..BATCH)
            .map(|k| format!("p{producer}-b{batch}-r{k}"))
            .collect();
        let records: Vec<Value> = values
            .iter()
            .map(|v| json!({"key": format!("producer-{producer}"), "value": v}))
            .collect();
        let sent = http
            .post(format!("{url}/v1/streams/crash/records"))
            .json(&json!({ "records": records }))
            .send()
            .await;
        let Ok(response) = sent else { return };
        if !response.status().is_success() {
            return;
        }
        let Ok(body) = response.json::<Value>().await else {
            return;
        };
        let placed = body["records"].as_array().cloned().unwrap_or_default();
        assert_eq!(placed.len(), BATCH, "{body}");
        let mut answered = lock(&answered);
        for (value, place) in values.into_iter().zip(placed) {
            let partition = place["partition"].as_u64().unwrap_or(u64::MAX);
            let offset = place["offset"].as_u64().unwrap_or(u64::MAX);
            assert!(
                answered.insert((partition, offset), value).is_none(),
                "offset given twice"
            );
        }
    }
}

/// Every record of a partition, in order: (offset, value).
async fn read_all(url: &str, partition: u64) -> Vec<(u64, String)> {
    let http = raw();
    let mut out = Vec::new();
    let mut next = 0;
    loop {
        let body: Value = http
            .get(format!(
                "{url}/v1/streams/crash/partitions/{partition}/records?offset={next}&max_records=5000"
            ))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let records = body["records"].as_array().cloned().unwrap_or_default();
        if records.is_empty() {
            return out;
        }
        for r in records {
            let offset = r["offset"].as_u64().unwrap_or(u64::MAX);
            out.push((offset, r["value"].as_str().unwrap_or_default().to_owned()));
        }
        next = body["next_offset"].as_u64().unwrap_or(u64::MAX);
    }
}

#[test]
fn kill_9_during_appends_loses_no_answered_record() {
    let dir = DataDir::new();
    let rt = runtime();
    let answered: Answered = Arc::default();
    let server = Server::start(&dir, &[]);
    let url = server.url();
    let tasks = rt.block_on(async {
        let created = raw()
            .put(format!("{url}/v1/streams/crash"))
            .json(&json!({ "partitions": PARTITIONS }))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(created.status().is_success(), "{}", created.status());
        let tasks: Vec<_> = (0..PRODUCERS)
            .map(|p| tokio::spawn(produce(url.clone(), p, Arc::clone(&answered))))
            .collect();
        let started = Instant::now();
        while lock(&answered).len() < ANSWERED_BEFORE_KILL {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "load did not get going"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tasks
    });
    server.kill();
    rt.block_on(async {
        for task in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
        }
    });
    let answered = lock(&answered).clone();

    let server = Server::start(&dir, &[]);
    let url = server.url();
    let mut stored = 0;
    rt.block_on(async {
        for partition in 0..PARTITIONS {
            let records = read_all(&url, partition).await;
            stored += records.len();
            // No gaps and no duplicates: offsets are exactly 0, 1, 2, …
            for (expected, (offset, _)) in records.iter().enumerate() {
                assert_eq!(*offset, expected as u64, "partition {partition} has a gap");
            }
            let mut values: Vec<&String> = records.iter().map(|(_, v)| v).collect();
            values.sort();
            values.dedup();
            assert_eq!(
                values.len(),
                records.len(),
                "partition {partition} has duplicates"
            );
            let by_offset: BTreeMap<u64, &String> = records.iter().map(|(o, v)| (*o, v)).collect();
            for ((p, offset), value) in answered.range((partition, 0)..(partition + 1, 0)) {
                assert_eq!(
                    by_offset.get(offset).copied(),
                    Some(value),
                    "answered record at {p}:{offset} lost or moved"
                );
            }
        }
    });
    let (status, _) = server.terminate();
    assert!(status.success());
    eprintln!(
        "answered {} records, {} stored after restart",
        answered.len(),
        stored
    );
}
