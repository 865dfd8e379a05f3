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

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
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
async fn a_send_whose_fsync_fails_while_the_queue_shuts_down_is_not_confirmed() -> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = FaultyStorage::new();
    let b = open(dir.path(), &storage).await?;
    b.put_queue("q", QueueConfig::default()).await?;
    storage.set_sync_delay(Duration::from_millis(300));
    storage.fail_next_sync();
    let sender = {
        let b = b.clone();
        tokio::spawn(async move { b.send("q", vec![text("never on disk")]).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!sender.is_finished(), "answered before its fsync completed");
    // The shutdown's own sync has nothing new to write, but vouches for the send's.
    b.shutdown().await;
    assert!(
        sender.await?.is_err(),
        "a send whose fsync failed was confirmed"
    );
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

// docs/architecture.md#durability-stated
#[test]
fn a_power_loss_after_reclaiming_segments_loses_at_most_the_unsynced_tail() -> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = FaultyStorage::new();
    // The background fsync never comes: only rolls and snapshots make anything durable.
    let config = BrokerConfig {
        data_dir: dir.path().to_path_buf(),
        fsync: FsyncPolicy::Interval(Duration::from_secs(3600)),
        segment_bytes: 8 * 1024,
        ..BrokerConfig::default()
    };
    runtime()?.block_on(async {
        let b = Broker::open_with_storage(config.clone(), Arc::new(storage.clone())).await?;
        b.put_queue("q", QueueConfig::default()).await?;
        let keep = NewMessage {
            delay: Some(Duration::from_secs(3600)),
            ..text("keep")
        };
        b.send("q", vec![keep]).await?;
        // Traffic that rolls segments, so that maintenance moves "keep" to the head of the
        // log, snapshots and deletes the segments behind it.
        let mut reclaimed = 0;
        for round in 0..400 {
            let batch = (0..8).map(|i| text(&format!("{round}-{i}-{}", "x".repeat(200))));
            b.send("q", batch.collect()).await?;
            let receipts: Vec<String> = b
                .receive("q", recv())
                .await?
                .into_iter()
                .map(|d| d.receipt)
                .collect();
            b.ack("q", receipts).await?;
            let metrics = b.metrics(ferry_broker::metrics::Detail::Counts).await;
            reclaimed = metrics
                .queues
                .iter()
                .map(|q| q.storage.reclaimed_segments)
                .sum::<u64>();
            if reclaimed >= 3 {
                break;
            }
        }
        assert!(reclaimed >= 3, "no segments were reclaimed");
        storage.cut_power();
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    // The runtime is gone without a shutdown, as in a crash; the files keep what was synced.
    storage.restore_power()?;
    runtime()?.block_on(async {
        let b = Broker::open_with_storage(config, Arc::new(storage.clone())).await?;
        let stats = b.queue_info("q").await?.stats;
        assert_eq!(
            stats.delayed, 1,
            "the long-lived message was lost: {stats:?}"
        );
        b.shutdown().await;
        Ok(())
    })
}
