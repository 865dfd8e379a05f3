//! Crash safety against the real binary: `kill -9` under load, restart, and check that every
//! message whose send was answered is still there and is delivered exactly once.

mod common;

use common::{DataDir, Server, runtime};
use ferry_client::api::{QueueConfig, ReceiveRequest, SendEntry};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PRODUCERS: usize = 4;
const BATCH: usize = 10;
/// Answered sends to wait for before pulling the plug.
const ANSWERED_BEFORE_KILL: usize = 600;

type Bodies = Arc<Mutex<BTreeSet<String>>>;

fn lock(set: &Bodies) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
    set.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Sends batches until the server goes away; records the bodies of every answered send.
async fn produce(client: ferry_client::Client, producer: usize, answered: Bodies) {
    for batch in 0.. {
        let bodies: Vec<String> = (0..BATCH)
            .map(|k| format!("p{producer}-b{batch}-m{k}"))
            .collect();
        let entries = bodies.iter().map(|b| SendEntry::text(b.clone())).collect();
        match client.send("crash", entries).await {
            Ok(sent) => {
                assert_eq!(sent.len(), BATCH);
                lock(&answered).extend(bodies);
            }
            Err(_) => return,
        }
    }
}

/// Receives; acks every other message and leaves the rest leased, until the server goes away.
/// An ack that was sent but never answered may or may not have been applied before the crash:
/// its messages stay in `acking` (they may be gone after the restart, or come back).
async fn consume(client: ferry_client::Client, acked: Bodies, acking: Bodies) {
    let request = ReceiveRequest {
        max: Some(20),
        wait_ms: Some(100),
        ..ReceiveRequest::default()
    };
    loop {
        let Ok(got) = client.receive("crash", &request).await else {
            return;
        };
        let (to_ack, _leased): (Vec<_>, Vec<_>) =
            got.iter().enumerate().partition(|(i, _)| i % 2 == 0);
        let receipts: Vec<String> = to_ack.iter().map(|(_, m)| m.receipt.clone()).collect();
        if receipts.is_empty() {
            continue;
        }
        let bodies: Vec<String> = to_ack.iter().filter_map(|(_, m)| m.body.clone()).collect();
        lock(&acking).extend(bodies.iter().cloned());
        match client.ack("crash", receipts).await {
            Ok(outcome) if outcome.failed.is_empty() => {
                let mut acking = lock(&acking);
                for body in &bodies {
                    acking.remove(body);
                }
                lock(&acked).extend(bodies);
            }
            Ok(_) => {}
            Err(_) => return,
        }
    }
}

#[test]
fn kill_9_under_load_loses_no_answered_message() {
    let dir = DataDir::new();
    let rt = runtime();
    let answered: Bodies = Arc::default();
    let acked: Bodies = Arc::default();
    let acking: Bodies = Arc::default();

    let server = Server::start(&dir, &[]);
    let client = server.client();
    let tasks = rt.block_on(async {
        let config = QueueConfig {
            visibility_timeout_ms: 1_000,
            ..QueueConfig::default()
        };
        client
            .put_queue("crash", &config)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut tasks = Vec::new();
        for p in 0..PRODUCERS {
            tasks.push(tokio::spawn(produce(
                client.clone(),
                p,
                Arc::clone(&answered),
            )));
        }
        tasks.push(tokio::spawn(consume(
            client.clone(),
            Arc::clone(&acked),
            Arc::clone(&acking),
        )));
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
    let acked = lock(&acked).clone();
    let acking = lock(&acking).clone();
    assert!(answered.len() >= ANSWERED_BEFORE_KILL);

    let server = Server::start(&dir, &[]);
    let client = server.client();
    let mut seen: BTreeMap<String, u32> = BTreeMap::new();
    rt.block_on(async {
        // Leases from before the crash run out within a second; then those messages come back.
        let request = ReceiveRequest {
            max: Some(100),
            wait_ms: Some(2_000),
            visibility_timeout_ms: Some(60_000),
            ..ReceiveRequest::default()
        };
        loop {
            let got = client
                .receive("crash", &request)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            if got.is_empty() {
                break;
            }
            for m in &got {
                *seen.entry(m.body.clone().unwrap_or_default()).or_default() += 1;
            }
            let receipts = got.iter().map(|m| m.receipt.clone()).collect();
            let outcome = client
                .ack("crash", receipts)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
        }
    });
    let missing: Vec<&String> = answered
        .iter()
        .filter(|b| !acked.contains(*b) && !acking.contains(*b) && !seen.contains_key(*b))
        .collect();
    assert!(
        missing.is_empty(),
        "{} answered messages lost, e.g. {:?}",
        missing.len(),
        missing.first()
    );
    let twice: Vec<(&String, &u32)> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "delivered more than once after restart: {twice:?}"
    );
    let (status, _) = server.terminate();
    assert!(status.success());
    eprintln!(
        "answered {} (acked before crash {}), redelivered after restart {}",
        answered.len(),
        acked.len(),
        seen.len()
    );
}
