//! The broker on a fault-injecting file system: a send is answered, and its message becomes
//! deliverable, only once its fsync has completed; a failed fsync fails the send and fences
//! the queue.

use ferry_broker::*;
use ferry_log::io::FaultyStorage;
use std::sync::Arc;
use std::time::{Duration, Instant};

type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

async fn open(dir: &std::path::Path, storage: &FaultyStorage) -> Result<Broker> {
    let config = BrokerConfig {
        data_dir: dir.to_path_buf(),
        ..BrokerConfig::default()
    };
    Broker::open_with_storage(config, Arc::new(storage.clone())).await
}

fn text(body: &str) -> NewMessage {
    NewMessage {
        body: Body::text(body),
        ..NewMessage::default()
    }
}

fn recv() -> ReceiveOptions {
    ReceiveOptions {
        max: 10,
        ..ReceiveOptions::default()
    }
}

// docs/architecture.md#durability-stated
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_is_answered_and_deliverable_only_after_its_fsync() -> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = FaultyStorage::new();
    let b = open(dir.path(), &storage).await?;
    b.put_queue("q", QueueConfig::default()).await?;
    storage.set_sync_delay(Duration::from_millis(300));
    let started = Instant::now();
    let sender = {
        let b = b.clone();
        tokio::spawn(async move { b.send("q", vec![text("slow disk")]).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!sender.is_finished(), "answered before its fsync completed");
    assert!(
        b.receive("q", recv()).await?.is_empty(),
        "deliverable before its fsync completed"
    );
    assert_eq!(
        b.queue_info("q").await?.stats.visible,
        1,
        "stored, only not yet deliverable"
    );
    sender.await??;
    assert!(started.elapsed() >= Duration::from_millis(300));
    let got = b.receive("q", recv()).await?;
    assert_eq!(got.len(), 1);
    storage.set_sync_delay(Duration::ZERO);
    b.shutdown().await;
    Ok(())
}

// docs/architecture.md#durability-stated
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sends_share_fsyncs() -> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = FaultyStorage::new();
    let b = open(dir.path(), &storage).await?;
    b.put_queue("q", QueueConfig::default()).await?;
    storage.set_sync_delay(Duration::from_millis(20));
    let before = storage.syncs();
    let mut senders = Vec::new();
    for i in 0..40 {
        let b = b.clone();
        senders.push(tokio::spawn(async move {
            b.send("q", vec![text(&format!("m{i}"))]).await
        }));
    }
    for s in senders {
        s.await??;
    }
    let syncs = storage.syncs() - before;
    assert!(
        syncs < 40,
        "40 sends took {syncs} fsyncs: group commit should share them"
    );
    assert_eq!(b.queue_info("q").await?.stats.visible, 40);
    storage.set_sync_delay(Duration::ZERO);
    b.shutdown().await;
    Ok(())
}

// docs/architecture.md#durability-stated
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_fsync_fails_the_send_and_fences_the_queue() -> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = FaultyStorage::new();
    let b = open(dir.path(), &storage).await?;
    b.put_queue("q", QueueConfig::default()).await?;
    b.put_queue("other", QueueConfig::default()).await?;
    storage.fail_next_sync();
    assert!(
        b.send("q", vec![text("maybe lost")]).await.is_err(),
        "a send whose fsync failed must not succeed"
    );
    let again = b.send("q", vec![text("after")]).await.map_err(|e| e.kind);
    assert_eq!(
        again,
        Err(ErrorKind::Unavailable),
        "the queue refuses work once its storage failed"
    );
    assert_eq!(
        b.receive("q", recv()).await.map_err(|e| e.kind).err(),
        Some(ErrorKind::Unavailable)
    );
    b.send("other", vec![text("fine")]).await?;
    assert_eq!(
        b.receive("other", recv()).await?.len(),
        1,
        "other queues are unaffected"
    );
    Ok(())
}
