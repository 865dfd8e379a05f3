//! Resequencing queues in-process, on real logs: results completed out of order reach a
//! stream or a queue in arrival order, exactly once, across restarts.

mod common;

use common::{TestResult, config, receive};
use ferry_broker::*;
use std::time::{Duration, Instant};

fn resequencing(output: Output, gap_policy: GapPolicy) -> QueueConfig {
    QueueConfig {
        resequence: Some(ResequenceConfig {
            output,
            gap_policy,
            gap_markers: false,
        }),
        ..QueueConfig::default()
    }
}

/// A broker with the output (stream or queue) and the resequencing queue `work` into it.
async fn open_with_work(
    dir: &std::path::Path,
    output: Output,
    policy: GapPolicy,
) -> Result<Broker> {
    let b = Broker::open(config(dir)).await?;
    match &output {
        Output::Stream(name) => b.put_stream(name, StreamConfig::default()).await?,
        Output::Queue(name) => b.put_queue(name, QueueConfig::default()).await?,
    };
    b.put_queue("work", resequencing(output, policy)).await?;
    Ok(b)
}

fn keyed(body: &str, key: &str) -> NewMessage {
    NewMessage {
        body: Body::text(body),
        group: Some(key.to_owned()),
        ..NewMessage::default()
    }
}

fn completion(d: &Delivery, result: &str) -> Completion {
    Completion {
        receipt: d.receipt.clone(),
        body: Body::text(result),
        ..Completion::default()
    }
}

/// Every record of a one-partition stream as (key, value, source id header).
async fn stream_contents(b: &Broker, stream: &str) -> Result<Vec<(String, String, String)>> {
    let read = b
        .read(
            stream,
            0,
            ReadOptions {
                from: StartOffset::Earliest,
                max_records: 10_000,
                ..ReadOptions::default()
            },
        )
        .await?;
    Ok(read
        .records
        .into_iter()
        .map(|r| {
            let text =
                |b: Option<Vec<u8>>| String::from_utf8_lossy(&b.unwrap_or_default()).into_owned();
            let source = r
                .record
                .headers
                .iter()
                .find(|(k, _)| k == SOURCE_ID_ATTRIBUTE)
                .and_then(|(_, v)| v.clone());
            (text(r.record.key), text(r.record.value), text(source))
        })
        .collect())
}

/// Waits until the stream holds `count` records (the releaser works in the background).
async fn wait_for_records(
    b: &Broker,
    stream: &str,
    count: usize,
) -> Result<Vec<(String, String, String)>> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let contents = stream_contents(b, stream).await?;
        if contents.len() >= count || Instant::now() > deadline {
            return Ok(contents);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn results_reach_a_stream_in_arrival_order_per_key() -> TestResult {
    let dir = tempfile::tempdir()?;
    let b = open_with_work(dir.path(), Output::Stream("out".into()), GapPolicy::Skip).await?;
    let sent = b
        .send(
            "work",
            vec![
                keyed("a1", "a"),
                keyed("b1", "b"),
                keyed("a2", "a"),
                keyed("a3", "a"),
            ],
        )
        .await?;
    let got = receive(&b, "work", 10).await?;
    assert_eq!(got.len(), 4, "one key's messages go out in parallel");
    // Complete in reverse: a3, a2, b1, then a1 last.
    for d in got.iter().rev().take(3) {
        let body = String::from_utf8_lossy(&d.body.bytes).to_uppercase();
        let outcome = b.complete("work", vec![completion(d, &body)]).await?;
        assert_eq!((outcome.ok, outcome.failed.len()), (1, 0));
    }
    let early = wait_for_records(&b, "out", 1).await?;
    assert_eq!(early.len(), 1, "only b1 can leave before a1: {early:?}");
    assert_eq!(early[0].1, "B1");
    let stats = b.queue_info("work").await?.stats;
    let reseq = stats.resequence.ok_or("no resequence stats")?;
    assert_eq!((reseq.held_back, reseq.completed_total), (2, 3));
    b.complete("work", vec![completion(&got[0], "A1")]).await?;
    let all = wait_for_records(&b, "out", 4).await?;
    let values: Vec<&str> = all.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(values, ["B1", "A1", "A2", "A3"]);
    assert_eq!(all[1].0, "a", "the order key is the record key");
    assert_eq!(
        all[1].2,
        sent[0].id.to_string(),
        "each record names its source"
    );
    // A second completion of a completed message is refused and releases nothing.
    let again = b
        .complete("work", vec![completion(&got[0], "again")])
        .await?;
    assert_eq!(again.failed.len(), 1);
    assert_eq!(again.failed[0].error.kind, ErrorKind::AlreadyCompleted);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(stream_contents(&b, "out").await?.len(), 4);
    b.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn held_back_results_survive_a_restart_and_leave_once() -> TestResult {
    let dir = tempfile::tempdir()?;
    let b = open_with_work(dir.path(), Output::Queue("out".into()), GapPolicy::Skip).await?;
    let bodies: Vec<NewMessage> = (0..20).map(|i| keyed(&format!("m{i}"), "k")).collect();
    b.send("work", bodies).await?;
    let got = receive(&b, "work", 20).await?;
    // Everything but the first completes: all 19 results are held back.
    let rest: Vec<Completion> = got.iter().skip(1).map(|d| completion(d, "r")).collect();
    b.complete("work", rest).await?;
    b.shutdown().await;
    drop(b);

    let b = Broker::open(config(dir.path())).await?;
    let reseq = b
        .queue_info("work")
        .await?
        .stats
        .resequence
        .ok_or("no stats")?;
    assert_eq!(reseq.held_back, 19, "held-back results are durable");
    // The first message's lease survived too: its receipt still completes it.
    b.complete("work", vec![completion(&got[0], "first")])
        .await?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut out = Vec::new();
    while out.len() < 20 && Instant::now() < deadline {
        let batch = receive(&b, "out", 10).await?;
        out.extend(batch);
        if out.len() < 20 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let sources: Vec<String> = out
        .iter()
        .map(|d| {
            d.attributes
                .get(SOURCE_ID_ATTRIBUTE)
                .cloned()
                .unwrap_or_default()
        })
        .collect();
    let expected: Vec<String> = got.iter().map(|d| d.id.to_string()).collect();
    assert_eq!(sources, expected, "released once each, in arrival order");
    assert!(out.iter().all(|d| d.group.as_deref() == Some("k")));
    b.shutdown().await;
    drop(b);

    // Restarting again hands nothing over twice.
    let b = Broker::open(config(dir.path())).await?;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stats = b.queue_info("out").await?.stats;
    assert_eq!(stats.enqueued_total, 20);
    b.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn config_errors_and_guards() -> TestResult {
    let dir = tempfile::tempdir()?;
    let b = Broker::open(config(dir.path())).await?;
    let missing = b
        .put_queue(
            "work",
            resequencing(Output::Stream("nope".into()), GapPolicy::Skip),
        )
        .await;
    assert_eq!(
        missing.err().map(|e| e.kind),
        Some(ErrorKind::InvalidConfig)
    );
    let own = b
        .put_queue(
            "work",
            resequencing(Output::Queue("work".into()), GapPolicy::Skip),
        )
        .await;
    assert_eq!(own.err().map(|e| e.kind), Some(ErrorKind::InvalidConfig));
    b.put_stream("out", StreamConfig::default()).await?;
    b.put_queue(
        "work",
        resequencing(Output::Stream("out".into()), GapPolicy::Block),
    )
    .await?;
    assert_eq!(
        b.delete_stream("out").await.err().map(|e| e.kind),
        Some(ErrorKind::Conflict),
        "an output in use cannot be deleted"
    );
    let auto = b
        .receive(
            "work",
            ReceiveOptions {
                ack_mode: AckMode::Auto,
                ..ReceiveOptions::default()
            },
        )
        .await;
    assert_eq!(auto.err().map(|e| e.kind), Some(ErrorKind::InvalidRequest));
    b.put_queue("plain", QueueConfig::default()).await?;
    b.send("plain", vec![keyed("x", "k")]).await?;
    let d = b.receive("plain", ReceiveOptions::default()).await?;
    let refused = b.complete("plain", vec![completion(&d[0], "r")]).await;
    assert_eq!(
        refused.err().map(|e| e.kind),
        Some(ErrorKind::InvalidRequest)
    );
    // Turning resequencing on needs an empty queue.
    let on = b
        .put_queue(
            "plain",
            resequencing(Output::Stream("out".into()), GapPolicy::Skip),
        )
        .await;
    assert_eq!(on.err().map(|e| e.kind), Some(ErrorKind::Conflict));
    b.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_blocked_gap_holds_its_key_until_skipped() -> TestResult {
    let dir = tempfile::tempdir()?;
    let b = open_with_work(dir.path(), Output::Stream("out".into()), GapPolicy::Block).await?;
    b.send("work", vec![keyed("a1", "a"), keyed("a2", "a")])
        .await?;
    let got = receive(&b, "work", 2).await?;
    b.complete("work", vec![completion(&got[1], "A2")]).await?;
    // The worker gives up on a1 without a result: a gap.
    b.ack("work", vec![got[0].receipt.clone()]).await?;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        stream_contents(&b, "out").await?.is_empty(),
        "held behind the gap"
    );
    let reseq = b
        .queue_info("work")
        .await?
        .stats
        .resequence
        .ok_or("no stats")?;
    assert_eq!((reseq.blocked_gaps, reseq.held_back), (1, 1));
    assert_eq!(b.skip_gaps("work", Some("a".into())).await?, 1);
    let out = wait_for_records(&b, "out", 1).await?;
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].1, "A2");
    b.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_result_the_output_would_refuse_is_refused_at_completion() -> TestResult {
    let dir = tempfile::tempdir()?;
    let b = Broker::open(config(dir.path())).await?;
    let small = StreamConfig {
        max_record_bytes: 1024,
        ..StreamConfig::default()
    };
    b.put_stream("out", small).await?;
    b.put_queue(
        "work",
        resequencing(Output::Stream("out".into()), GapPolicy::Skip),
    )
    .await?;
    b.send("work", vec![keyed("a1", "a"), keyed("a2", "a")])
        .await?;
    let got = receive(&b, "work", 2).await?;
    // Body, key and the ferry-source-id header together pass 1024 bytes.
    let big = completion(&got[0], &"x".repeat(1000));
    let outcome = b
        .complete("work", vec![big, completion(&got[1], "A2")])
        .await?;
    assert_eq!(outcome.ok, 1);
    assert_eq!(outcome.failed[0].error.kind, ErrorKind::MessageTooLarge);
    // The refused one can be completed again with a smaller result; order holds.
    b.complete("work", vec![completion(&got[0], "A1")]).await?;
    let out = wait_for_records(&b, "out", 2).await?;
    let values: Vec<&str> = out.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(values, ["A1", "A2"]);
    b.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_repeated_completion_is_already_completed_even_for_a_compacted_output() -> TestResult {
    let dir = tempfile::tempdir()?;
    let b = Broker::open(config(dir.path())).await?;
    let compacted = StreamConfig {
        cleanup: Cleanup::Compact,
        ..StreamConfig::default()
    };
    b.put_stream("out", compacted).await?;
    b.put_queue(
        "work",
        resequencing(Output::Stream("out".into()), GapPolicy::Skip),
    )
    .await?;
    b.send("work", vec![keyed("a1", "a")]).await?;
    let got = receive(&b, "work", 1).await?;
    let first = b.complete("work", vec![completion(&got[0], "A1")]).await?;
    assert_eq!(first.ok, 1, "keyed: the compacted output takes it");
    // The message is gone, so its key is unknown: the answer must still say why.
    let again = b.complete("work", vec![completion(&got[0], "A1")]).await?;
    assert_eq!(again.failed[0].error.kind, ErrorKind::AlreadyCompleted);
    b.shutdown().await;
    Ok(())
}
