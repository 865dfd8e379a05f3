//! Atomic ack and publish in-process: all or nothing, published exactly once, across restarts.

mod common;

use common::{TestResult, config, receive, text};
use ferry_broker::*;
use std::time::{Duration, Instant};

fn ack(queue: &str, d: &Delivery) -> TransactionAck {
    TransactionAck {
        queue: queue.to_owned(),
        receipt: d.receipt.clone(),
    }
}

fn publish_both(body: &str) -> Vec<TransactionPublish> {
    vec![
        TransactionPublish::Messages {
            queue: "out".into(),
            messages: vec![text(body)],
        },
        TransactionPublish::Records {
            stream: "log".into(),
            records: vec![NewRecord {
                key: Some(b"k".to_vec()),
                value: Some(body.as_bytes().to_vec()),
                ..NewRecord::default()
            }],
        },
    ]
}

async fn setup(dir: &std::path::Path) -> Result<Broker> {
    let b = Broker::open(config(dir)).await?;
    for q in ["in", "out", "other"] {
        b.put_queue(q, QueueConfig::default()).await?;
    }
    b.put_stream("log", StreamConfig::default()).await?;
    Ok(b)
}

/// Everything the targets hold: bodies received from `out`, values in `log`.
async fn published(b: &Broker) -> Result<(Vec<String>, Vec<String>)> {
    let got = receive(b, "out", 100).await?;
    let messages = got
        .iter()
        .map(|d| String::from_utf8_lossy(&d.body.bytes).into_owned())
        .collect();
    let read = b
        .read(
            "log",
            0,
            ReadOptions {
                from: StartOffset::Earliest,
                max_records: 100,
                ..ReadOptions::default()
            },
        )
        .await?;
    let records = read
        .records
        .iter()
        .map(|r| {
            String::from_utf8_lossy(r.record.value.as_deref().unwrap_or_default()).into_owned()
        })
        .collect();
    Ok((messages, records))
}

/// Waits until both targets hold something (they are written right after the reply).
async fn wait_published(b: &Broker) -> Result<(Vec<String>, Vec<String>)> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stats = b.queue_info("out").await?.stats;
        let log = b.partition_info("log", 0).await?;
        if (stats.visible > 0 && log.end_offset > 0) || Instant::now() > deadline {
            return published(b).await;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_transaction_acks_and_publishes_once() -> TestResult {
    let dir = tempfile::tempdir()?;
    let b = setup(dir.path()).await?;
    b.send("in", vec![text("order-1"), text("order-2")]).await?;
    let got = receive(&b, "in", 2).await?;
    let outcome = b
        .transact(Transaction {
            acks: got.iter().map(|d| ack("in", d)).collect(),
            publish: publish_both("invoice-1"),
        })
        .await?;
    assert_eq!((outcome.acked, outcome.published), (2, 2));
    let stats = b.queue_info("in").await?.stats;
    assert_eq!((stats.in_flight, stats.acked_total), (0, 2));
    let (messages, records) = wait_published(&b).await?;
    assert_eq!(
        (messages, records),
        (vec!["invoice-1".into()], vec!["invoice-1".into()])
    );
    // The same receipts again: refused, nothing published.
    let again = b
        .transact(Transaction {
            acks: got.iter().map(|d| ack("in", d)).collect(),
            publish: publish_both("twice"),
        })
        .await;
    assert_eq!(again.err().map(|e| e.kind), Some(ErrorKind::StaleReceipt));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(b.partition_info("log", 0).await?.end_offset, 1);
    b.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_bad_part_refuses_the_whole_transaction() -> TestResult {
    let dir = tempfile::tempdir()?;
    let b = setup(dir.path()).await?;
    b.send("in", vec![text("a"), text("b")]).await?;
    b.send("other", vec![text("c")]).await?;
    let got = receive(&b, "in", 2).await?;
    let other = b.receive("other", ReceiveOptions::default()).await?;
    let stale = TransactionAck {
        receipt: "not-a-receipt".into(),
        ..ack("in", &got[1])
    };
    let cases: Vec<(Transaction, ErrorKind)> = vec![
        (
            Transaction {
                acks: vec![ack("in", &got[0]), stale],
                publish: publish_both("x"),
            },
            ErrorKind::InvalidReceipt,
        ),
        (
            Transaction {
                acks: vec![ack("in", &got[0]), ack("other", &other[0])],
                publish: Vec::new(),
            },
            ErrorKind::InvalidRequest,
        ),
        (
            Transaction {
                acks: Vec::new(),
                publish: publish_both("x"),
            },
            ErrorKind::InvalidRequest,
        ),
        (
            Transaction {
                acks: vec![ack("in", &got[0])],
                publish: vec![TransactionPublish::Messages {
                    queue: "missing".into(),
                    messages: vec![text("x")],
                }],
            },
            ErrorKind::QueueNotFound,
        ),
        (
            Transaction {
                acks: vec![ack("in", &got[0])],
                publish: vec![TransactionPublish::Messages {
                    queue: "out".into(),
                    messages: vec![text("")],
                }],
            },
            ErrorKind::InvalidRequest,
        ),
        (
            Transaction {
                acks: vec![ack("in", &got[0])],
                publish: vec![TransactionPublish::Records {
                    stream: "log".into(),
                    records: vec![NewRecord {
                        partition: Some(7),
                        ..NewRecord::default()
                    }],
                }],
            },
            ErrorKind::PartitionNotFound,
        ),
    ];
    for (transaction, kind) in cases {
        let refused = b.transact(transaction.clone()).await;
        assert_eq!(refused.err().map(|e| e.kind), Some(kind), "{transaction:?}");
    }
    let stats = b.queue_info("in").await?.stats;
    assert_eq!(
        (stats.in_flight, stats.acked_total),
        (2, 0),
        "nothing acked"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        published(&b).await?,
        (Vec::new(), Vec::new()),
        "nothing published"
    );
    b.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_committed_transaction_is_published_after_a_restart() -> TestResult {
    let dir = tempfile::tempdir()?;
    let b = setup(dir.path()).await?;
    b.send("in", vec![text("a")]).await?;
    let got = b.receive("in", ReceiveOptions::default()).await?;
    b.transact(Transaction {
        acks: vec![ack("in", &got[0])],
        publish: publish_both("p"),
    })
    .await?;
    b.shutdown().await;
    drop(b);
    let b = Broker::open(config(dir.path())).await?;
    let (messages, records) = wait_published(&b).await?;
    assert_eq!((messages.len(), records.len()), (1, 1));
    b.shutdown().await;
    drop(b);
    let b = Broker::open(config(dir.path())).await?;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(b.queue_info("out").await?.stats.enqueued_total, 1);
    assert_eq!(b.partition_info("log", 0).await?.end_offset, 1);
    b.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn parcels_for_a_deleted_target_are_dropped_and_hold_nothing_up() -> TestResult {
    let dir = tempfile::tempdir()?;
    let b = setup(dir.path()).await?;
    b.put_queue("gone", QueueConfig::default()).await?;
    b.send("in", vec![text("a"), text("b")]).await?;
    let got = receive(&b, "in", 2).await?;
    // The target disappears right after the commit, before or after its parcel was handed
    // over: either way the releases behind it are not held up.
    b.transact(Transaction {
        acks: vec![ack("in", &got[0])],
        publish: vec![TransactionPublish::Messages {
            queue: "gone".into(),
            messages: vec![text("lost")],
        }],
    })
    .await?;
    let _ = b.delete_queue("gone").await;
    b.transact(Transaction {
        acks: vec![ack("in", &got[1])],
        publish: publish_both("next"),
    })
    .await?;
    let (messages, records) = wait_published(&b).await?;
    assert_eq!(
        (messages, records),
        (vec!["next".into()], vec!["next".into()])
    );
    b.shutdown().await;
    Ok(())
}
