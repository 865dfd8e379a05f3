//! The broker in-process, on real logs in a temp dir: workflows and restarts.

use ferry_broker::*;
use std::time::{Duration, Instant};

type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

fn config(dir: &std::path::Path) -> BrokerConfig {
    BrokerConfig {
        data_dir: dir.to_path_buf(),
        ..BrokerConfig::default()
    }
}

fn text(body: &str) -> NewMessage {
    NewMessage {
        body: Body::text(body),
        ..NewMessage::default()
    }
}

fn recv(max: u32) -> ReceiveOptions {
    ReceiveOptions {
        max,
        ..ReceiveOptions::default()
    }
}

fn bodies(got: &[Delivery]) -> Vec<String> {
    got.iter()
        .map(|d| String::from_utf8_lossy(&d.body.bytes).into_owned())
        .collect()
}

#[tokio::test]
async fn send_receive_ack_round_trip() -> TestResult {
    let dir = tempfile::tempdir()?;
    let b = Broker::open(config(dir.path())).await?;
    assert_eq!(
        b.put_queue("jobs", QueueConfig::default()).await?,
        Upsert::Created
    );
    let mut m = text("hello");
    m.attributes.insert("k".into(), "v".into());
    let sent = b
        .send(
            "jobs",
            vec![
                m,
                NewMessage {
                    body: Body::binary(vec![0, 255]),
                    ..NewMessage::default()
                },
            ],
        )
        .await?;
    assert_eq!(sent.len(), 2);
    let got = b.receive("jobs", recv(10)).await?;
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].id, sent[0].id);
    assert_eq!(got[0].attributes.get("k").map(String::as_str), Some("v"));
    assert_eq!(got[1].body, Body::binary(vec![0, 255]));
    let outcome = b
        .ack("jobs", got.iter().map(|d| d.receipt.clone()).collect())
        .await?;
    assert_eq!((outcome.ok, outcome.failed.len()), (2, 0));
    let stats = b.queue_info("jobs").await?.stats;
    assert_eq!(
        (stats.visible, stats.in_flight, stats.acked_total),
        (0, 0, 2)
    );
    b.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn errors_name_the_problem_and_change_nothing() -> TestResult {
    let dir = tempfile::tempdir()?;
    let b = Broker::open(config(dir.path())).await?;
    assert_eq!(
        b.send("nope", vec![text("x")]).await.map_err(|e| e.kind),
        Err(ErrorKind::QueueNotFound)
    );
    assert_eq!(
        b.put_queue("bad name", QueueConfig::default())
            .await
            .map_err(|e| e.kind),
        Err(ErrorKind::InvalidName)
    );
    let dlq_missing = QueueConfig {
        dead_letter_queue: Some("ghost".into()),
        ..QueueConfig::default()
    };
    assert_eq!(
        b.put_queue("q", dlq_missing).await.map_err(|e| e.kind),
        Err(ErrorKind::InvalidConfig)
    );
    b.put_queue(
        "q",
        QueueConfig {
            max_message_bytes: 4,
            ..QueueConfig::default()
        },
    )
    .await?;
    assert_eq!(
        b.send("q", vec![text("ok"), text("too long")])
            .await
            .map_err(|e| e.kind),
        Err(ErrorKind::MessageTooLarge)
    );
    assert_eq!(
        b.send("q", vec![]).await.map_err(|e| e.kind),
        Err(ErrorKind::InvalidRequest)
    );
    assert_eq!(b.queue_info("q").await?.stats.enqueued_total, 0);
    let outcome = b.ack("q", vec!["garbage".into()]).await?;
    assert_eq!(outcome.failed[0].error.kind, ErrorKind::InvalidReceipt);
    b.shutdown().await;
    Ok(())
}

/// A backlog larger than the cache of freshly written blobs is read back from the log, a run
/// of blobs per read, by peeks and by receives: every body must still come back whole and in
/// order.
#[tokio::test]
async fn a_backlog_beyond_the_blob_cache_reads_back_every_body() -> TestResult {
    let dir = tempfile::tempdir()?;
    let b = Broker::open(config(dir.path())).await?;
    b.put_queue("q", QueueConfig::default()).await?;
    let body = |n: usize| format!("{n:06}:{}", "x".repeat(n % 7 * 1000 + 8000));
    let (batches, per_batch) = (14, 100);
    for batch in 0..batches {
        let messages = (0..per_batch)
            .map(|i| text(&body(batch * per_batch + i)))
            .collect();
        b.send("q", messages).await?;
    }
    let expected: Vec<String> = (0..batches * per_batch).map(body).collect();
    let peeked: Vec<String> = b
        .peek("q", 300)
        .await?
        .iter()
        .map(|m| String::from_utf8_lossy(&m.body.bytes).into_owned())
        .collect();
    assert!(
        peeked == expected[..300],
        "peeked bodies differ from what was sent"
    );
    let mut got = Vec::new();
    loop {
        let batch = b.receive("q", recv(250)).await?;
        if batch.is_empty() {
            break;
        }
        got.extend(bodies(&batch));
    }
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "bodies differ from what was sent");
    Ok(())
}

#[tokio::test]
async fn long_poll_wakes_on_send_and_times_out_empty() -> TestResult {
    let dir = tempfile::tempdir()?;
    let b = Broker::open(config(dir.path())).await?;
    b.put_queue("q", QueueConfig::default()).await?;
    let started = Instant::now();
    let empty = b
        .receive(
            "q",
            ReceiveOptions {
                wait: Duration::from_millis(100),
                ..recv(1)
            },
        )
        .await?;
    assert!(empty.is_empty());
    assert!(started.elapsed() >= Duration::from_millis(100));
    let waiter = {
        let b = b.clone();
        tokio::spawn(async move {
            b.receive(
                "q",
                ReceiveOptions {
                    wait: Duration::from_secs(10),
                    ..recv(5)
                },
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    let started = Instant::now();
    b.send("q", vec![text("wake")]).await?;
    let got = waiter.await??;
    assert_eq!(bodies(&got), vec!["wake"]);
    assert!(started.elapsed() < Duration::from_secs(2));
    b.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn everything_survives_restart() -> TestResult {
    let dir = tempfile::tempdir()?;
    {
        let b = Broker::open(config(dir.path())).await?;
        b.put_queue("dlq", QueueConfig::default()).await?;
        let main = QueueConfig {
            max_receives: Some(1),
            dead_letter_queue: Some("dlq".into()),
            visibility_timeout_ms: 200,
            ..QueueConfig::default()
        };
        b.put_queue("main", main).await?;
        b.put_queue(
            "f.fifo",
            QueueConfig {
                fifo: true,
                ..QueueConfig::default()
            },
        )
        .await?;
        b.put_queue("later", QueueConfig::default()).await?;
        b.send(
            "later",
            vec![NewMessage {
                delay: Some(Duration::from_secs(3600)),
                ..text("in an hour")
            }],
        )
        .await?;
        b.send(
            "main",
            vec![NewMessage {
                dedup_id: Some("d1".into()),
                ..text("fails")
            }],
        )
        .await?;
        let got = b.receive("main", recv(1)).await?;
        b.nack(
            "main",
            vec![got[0].receipt.clone()],
            None,
            Some("bad payload".into()),
        )
        .await?;
        let g = |body: &str| NewMessage {
            group: Some("g".into()),
            ..text(body)
        };
        b.send("f.fifo", vec![g("1"), g("2")]).await?;
        let first = b.receive("f.fifo", recv(1)).await?;
        assert_eq!(bodies(&first), vec!["1"]);
        // Wait for the dead letter to land.
        for _ in 0..100 {
            if b.queue_info("dlq").await?.stats.visible == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        b.shutdown().await;
    }
    let b = Broker::open(config(dir.path())).await?;
    assert_eq!(b.list_queues().await?.len(), 4);
    // Delays survive.
    let later = b.queue_info("later").await?.stats;
    assert_eq!((later.delayed, later.visible), (1, 0));
    // The dead letter is in the DLQ with its history.
    let dead = b.peek("dlq", 10).await?;
    assert_eq!(dead.len(), 1);
    let info = dead[0].dead_letter.clone().ok_or("no dead-letter info")?;
    assert_eq!(
        (
            info.source_queue.as_str(),
            info.receive_count,
            info.reasons.clone()
        ),
        ("main", 1, vec!["bad payload".to_string()])
    );
    assert_eq!(b.queue_info("main").await?.stats.visible, 0);
    // The dedup window survives.
    let again = b
        .send(
            "main",
            vec![NewMessage {
                dedup_id: Some("d1".into()),
                ..text("fails")
            }],
        )
        .await?;
    assert!(again[0].duplicate);
    // FIFO state survives: "1" is still in flight, so "2" waits.
    assert!(b.receive("f.fifo", recv(10)).await?.is_empty());
    // A pace too slow to compute is refused before anything moves.
    for rate in [1e-300, 0.0, f64::NAN] {
        let slow = RedriveOptions {
            rate_per_s: Some(rate),
            ..RedriveOptions::default()
        };
        let refused = b.redrive("dlq", slow).await.map_err(|e| e.kind);
        assert_eq!(refused, Err(ErrorKind::InvalidRequest), "rate {rate}");
        assert_eq!(b.peek("dlq", 10).await?.len(), 1);
    }
    // Redrive moves it back.
    assert_eq!(b.redrive("dlq", RedriveOptions::default()).await?, 1);
    assert_eq!(bodies(&b.receive("main", recv(10)).await?), vec!["fails"]);
    assert!(b.peek("dlq", 10).await?.is_empty());
    b.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn unacked_leases_are_redelivered_after_restart() -> TestResult {
    let dir = tempfile::tempdir()?;
    {
        let b = Broker::open(config(dir.path())).await?;
        b.put_queue(
            "q",
            QueueConfig {
                visibility_timeout_ms: 300,
                ..QueueConfig::default()
            },
        )
        .await?;
        b.send("q", vec![text("a"), text("b")]).await?;
        let got = b.receive("q", recv(2)).await?;
        b.ack("q", vec![got[0].receipt.clone()]).await?;
        b.shutdown().await;
    }
    let b = Broker::open(config(dir.path())).await?;
    let got = b
        .receive(
            "q",
            ReceiveOptions {
                wait: Duration::from_secs(5),
                ..recv(10)
            },
        )
        .await?;
    assert_eq!(bodies(&got), vec!["b"]);
    assert_eq!(got[0].receive_count, 2);
    b.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn segments_are_reclaimed_and_recovery_uses_the_snapshot() -> TestResult {
    let dir = tempfile::tempdir()?;
    let small = BrokerConfig {
        segment_bytes: 64 * 1024,
        ..config(dir.path())
    };
    let queue_dir = dir.path().join("queues").join("q");
    let segment_count = || {
        std::fs::read_dir(&queue_dir)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
                    .count()
            })
            .unwrap_or(0)
    };
    {
        let b = Broker::open(small.clone()).await?;
        b.put_queue("q", QueueConfig::default()).await?;
        b.send("q", vec![text("straggler")]).await?;
        let body = "x".repeat(1000);
        for _ in 0..40 {
            b.send("q", (0..10).map(|_| text(&body)).collect()).await?;
            let got = b.receive("q", recv(11)).await?;
            let receipts: Vec<String> = got
                .iter()
                .filter(|d| d.body.bytes.len() > 100)
                .map(|d| d.receipt.clone())
                .collect();
            let keep: Vec<String> = got
                .iter()
                .filter(|d| d.body.bytes.len() <= 100)
                .map(|d| d.receipt.clone())
                .collect();
            b.ack("q", receipts).await?;
            if !keep.is_empty() {
                b.nack("q", keep, Some(Duration::ZERO), None).await?;
            }
        }
        assert!(
            segment_count() <= 4,
            "old segments reclaimed, {} left",
            segment_count()
        );
        b.shutdown().await;
    }
    assert!(queue_dir.join("snapshot").exists());
    let b = Broker::open(small).await?;
    let left = b.peek("q", 10).await?;
    assert_eq!(left.len(), 1);
    assert_eq!(
        left[0].body,
        Body::text("straggler"),
        "the long-lived message survived relocation"
    );
    b.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn delete_refuses_a_dlq_in_use_then_works() -> TestResult {
    let dir = tempfile::tempdir()?;
    let b = Broker::open(config(dir.path())).await?;
    b.put_queue("dlq", QueueConfig::default()).await?;
    b.put_queue(
        "q",
        QueueConfig {
            dead_letter_queue: Some("dlq".into()),
            ..QueueConfig::default()
        },
    )
    .await?;
    assert_eq!(
        b.delete_queue("dlq").await.map_err(|e| e.kind),
        Err(ErrorKind::Conflict)
    );
    b.delete_queue("q").await?;
    b.delete_queue("dlq").await?;
    assert!(b.list_queues().await?.is_empty());
    assert_eq!(
        b.send("q", vec![text("x")]).await.map_err(|e| e.kind),
        Err(ErrorKind::QueueNotFound)
    );
    b.shutdown().await;
    Ok(())
}

// docs/queues.md#receive-attempts
#[tokio::test]
async fn a_repeated_receive_attempt_returns_the_same_messages() -> TestResult {
    let dir = tempfile::tempdir()?;
    let b = Broker::open(config(dir.path())).await?;
    b.put_queue("q", QueueConfig::default()).await?;
    b.send("q", vec![text("a"), text("b"), text("c")]).await?;
    let attempt = |id: &str| ReceiveOptions {
        attempt_id: Some(id.into()),
        ..recv(2)
    };
    let first = b.receive("q", attempt("t1")).await?;
    let again = b.receive("q", attempt("t1")).await?;
    assert_eq!(bodies(&first), vec!["a", "b"]);
    let receipts = |d: &[Delivery]| d.iter().map(|m| m.receipt.clone()).collect::<Vec<_>>();
    assert_eq!(
        receipts(&again),
        receipts(&first),
        "same messages, same receipts"
    );
    assert_eq!(
        b.queue_info("q").await?.stats.delivered_total,
        2,
        "a repeat is not a new delivery"
    );
    // A second repeat still repeats: the first one's lease extension is its own.
    let third = b.receive("q", attempt("t1")).await?;
    assert_eq!(receipts(&third), receipts(&first));
    let other = b.receive("q", attempt("t2")).await?;
    assert_eq!(
        bodies(&other),
        vec!["c"],
        "another attempt id receives anew"
    );
    // Once a message's visibility was changed, the attempt receives anew (as SQS says).
    b.change_visibility("q", receipts(&other), Duration::from_secs(3600))
        .await?;
    let changed = b.receive("q", attempt("t2")).await?;
    assert!(
        changed.is_empty(),
        "a repeat after a visibility change: {:?}",
        bodies(&changed)
    );
    b.ack("q", vec![first[0].receipt.clone()]).await?;
    let after_ack = b.receive("q", attempt("t1")).await?;
    assert!(
        after_ack.is_empty(),
        "once a message of the attempt is gone, it is a new receive (nothing visible)"
    );
    let too_long = b
        .receive(
            "q",
            ReceiveOptions {
                attempt_id: Some("x".repeat(129)),
                ..recv(1)
            },
        )
        .await;
    assert_eq!(
        too_long.map_err(|e| e.kind).err(),
        Some(ErrorKind::InvalidRequest)
    );
    b.shutdown().await;
    Ok(())
}

// docs/queues.md#dead-letters
#[tokio::test]
async fn a_dead_letter_that_cannot_be_read_stays_in_its_queue() -> TestResult {
    let dir = tempfile::tempdir()?;
    let b = Broker::open(config(dir.path())).await?;
    b.put_queue("dlq", QueueConfig::default()).await?;
    let src = QueueConfig {
        max_receives: Some(1),
        dead_letter_queue: Some("dlq".into()),
        ..QueueConfig::default()
    };
    b.put_queue("src", src).await?;
    b.send("src", vec![text("good"), text("UNREADABLE")])
        .await?;
    let got = b.receive("src", recv(2)).await?;
    // Damage the stored blob header of the second message: [len u32][header: 4 bytes][body].
    let segment = std::fs::read_dir(dir.path().join("queues").join("src"))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "log"))
        .ok_or("no segment")?;
    let mut bytes = std::fs::read(&segment)?;
    let body_at = bytes
        .windows(10)
        .position(|w| w == b"UNREADABLE")
        .ok_or("body not found")?;
    bytes[body_at - 8..body_at - 4].copy_from_slice(&[0xff; 4]);
    std::fs::write(&segment, &bytes)?;
    b.nack(
        "src",
        got.iter().map(|d| d.receipt.clone()).collect(),
        None,
        None,
    )
    .await?;
    for _ in 0..200 {
        if b.queue_info("dlq").await?.stats.visible == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        b.queue_info("dlq").await?.stats.visible,
        1,
        "the readable one moved"
    );
    assert_eq!(
        b.queue_info("src").await?.stats.bytes,
        10,
        "the unreadable one is still stored, not dropped"
    );
    b.shutdown().await;
    Ok(())
}

/// Copies a directory tree (files only one level deep, as a queue's directory is).
fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        std::fs::copy(entry.path(), to.join(entry.file_name()))?;
    }
    Ok(())
}

#[tokio::test]
async fn a_new_queue_or_stream_does_not_inherit_what_a_failed_deletion_left() -> TestResult {
    let dir = tempfile::tempdir()?;
    let b = Broker::open(config(dir.path())).await?;
    b.put_queue("a", QueueConfig::default()).await?;
    b.send("a", vec![text("1"), text("2"), text("3")]).await?;
    // As if deleting a queue "b" had removed its catalog record but not all its files.
    copy_dir(
        &dir.path().join("queues").join("a"),
        &dir.path().join("queues").join("b"),
    )?;
    b.put_queue("b", QueueConfig::default()).await?;
    assert_eq!(b.queue_info("b").await?.stats.visible, 0);
    assert_eq!(b.queue_info("a").await?.stats.visible, 3);

    b.put_stream("s", StreamConfig::default()).await?;
    let leftover = dir.path().join("streams").join("t").join("0");
    copy_dir(&dir.path().join("streams").join("s").join("0"), &leftover)?;
    std::fs::write(leftover.join("00000000000000000000.log"), b"not a log")?;
    b.put_stream("t", StreamConfig::default()).await?;
    assert_eq!(b.stream_info("t").await?.partitions[0].end_offset, 0);
    b.shutdown().await;
    Ok(())
}
