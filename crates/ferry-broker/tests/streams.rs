//! Streams in-process, on real logs in a temp dir: appends, reads, conditional appends,
//! retention, compaction, consumer groups and restarts.

use ferry_broker::*;
use std::time::Duration;

type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

fn config(dir: &std::path::Path) -> BrokerConfig {
    BrokerConfig {
        data_dir: dir.to_path_buf(),
        retention_check_interval: Duration::from_millis(20),
        ..BrokerConfig::default()
    }
}

fn stream_config(partitions: u32) -> StreamConfig {
    StreamConfig {
        partitions,
        ..StreamConfig::default()
    }
}

fn record(key: Option<&str>, value: &str) -> NewRecord {
    NewRecord {
        key: key.map(|k| k.as_bytes().to_vec()),
        value: Some(value.as_bytes().to_vec()),
        ..NewRecord::default()
    }
}

fn to(partition: u32, value: &str) -> NewRecord {
    NewRecord {
        partition: Some(partition),
        ..record(None, value)
    }
}

fn values(outcome: &ReadOutcome) -> Vec<String> {
    outcome
        .records
        .iter()
        .map(|r| {
            String::from_utf8_lossy(r.record.value.as_deref().unwrap_or(b"<null>")).into_owned()
        })
        .collect()
}

fn from(offset: u64) -> ReadOptions {
    ReadOptions {
        from: StartOffset::At(offset),
        ..ReadOptions::default()
    }
}

// docs/streams.md#append
#[tokio::test]
async fn appends_get_contiguous_offsets_and_read_back_in_order() -> TestResult {
    let dir = tempfile::tempdir()?;
    let b = Broker::open(config(dir.path())).await?;
    assert_eq!(
        b.put_stream("events", stream_config(1)).await?,
        Upsert::Created
    );
    let first = b
        .append("events", vec![to(0, "a"), to(0, "b")], None)
        .await?;
    let second = b.append("events", vec![to(0, "c")], None).await?;
    let offsets: Vec<u64> = first.iter().chain(&second).map(|r| r.offset).collect();
    assert_eq!(offsets, vec![0, 1, 2]);

    let all = b.read("events", 0, from(0)).await?;
    assert_eq!(values(&all), vec!["a", "b", "c"]);
    assert_eq!(
        (all.next_offset, all.start_offset, all.end_offset),
        (3, 0, 3)
    );
    // From the middle of a stored batch.
    let tail = b.read("events", 0, from(1)).await?;
    assert_eq!(values(&tail), vec!["b", "c"]);
    assert_eq!(tail.skipped_to, None);
    // Limits.
    let one = b
        .read(
            "events",
            0,
            ReadOptions {
                max_records: 1,
                ..from(0)
            },
        )
        .await?;
    assert_eq!((values(&one), one.next_offset), (vec!["a".to_string()], 1));
    // At the end: nothing; past it: a clear error naming the range.
    assert!(b.read("events", 0, from(3)).await?.records.is_empty());
    let past = b
        .read("events", 0, from(4))
        .await
        .err()
        .ok_or("read past end")?;
    assert_eq!(past.kind, ErrorKind::OffsetOutOfRange);
    assert!(past.message.contains("0..=3"), "{}", past.message);
    let bad = b
        .read("events", 7, from(0))
        .await
        .err()
        .ok_or("bad partition")?;
    assert_eq!(bad.kind, ErrorKind::PartitionNotFound);
    Ok(())
}

// docs/streams.md#partitioning
#[tokio::test]
async fn keys_pick_partitions_like_kafka_and_keyless_batches_stick_together() -> TestResult {
    let dir = tempfile::tempdir()?;
    let b = Broker::open(config(dir.path())).await?;
    b.put_stream("s", stream_config(4)).await?;
    let got = b
        .append(
            "s",
            vec![record(Some("user-1"), "x"), record(Some("user-1"), "y")],
            None,
        )
        .await?;
    assert_eq!(got[0].partition, got[1].partition);
    assert_eq!(got[1].offset, got[0].offset + 1);
    let keyless = b
        .append(
            "s",
            vec![record(None, "1"), record(None, "2"), record(None, "3")],
            None,
        )
        .await?;
    assert!(keyless.iter().all(|r| r.partition == keyless[0].partition));
    let bad = b
        .append("s", vec![to(4, "x")], None)
        .await
        .err()
        .ok_or("partition 4")?;
    assert_eq!(bad.kind, ErrorKind::PartitionNotFound);
    Ok(())
}

// docs/streams.md#conditional-appends
#[tokio::test]
async fn a_conditional_append_with_a_stale_offset_writes_nothing() -> TestResult {
    let dir = tempfile::tempdir()?;
    let b = Broker::open(config(dir.path())).await?;
    b.put_stream("orders", stream_config(2)).await?;
    b.append("orders", vec![to(1, "created")], Some(0)).await?;
    let stale = b
        .append("orders", vec![to(1, "paid"), to(1, "shipped")], Some(0))
        .await
        .err()
        .ok_or("stale append accepted")?;
    assert_eq!(stale.kind, ErrorKind::OffsetMismatch);
    assert_eq!(stale.next_offset, Some(1));
    assert_eq!(b.partition_info("orders", 1).await?.end_offset, 1);
    b.append("orders", vec![to(1, "paid"), to(1, "shipped")], Some(1))
        .await?;
    assert_eq!(
        values(&b.read("orders", 1, from(0)).await?),
        vec!["created", "paid", "shipped"]
    );
    let split = b
        .append("orders", vec![to(0, "a"), to(1, "b")], Some(3))
        .await
        .err()
        .ok_or("split conditional append")?;
    assert_eq!(split.kind, ErrorKind::InvalidRequest);
    Ok(())
}

#[tokio::test]
async fn bad_records_are_refused_and_nothing_is_written() -> TestResult {
    let dir = tempfile::tempdir()?;
    let b = Broker::open(config(dir.path())).await?;
    let compacted = StreamConfig {
        cleanup: Cleanup::Compact,
        max_record_bytes: 1024,
        ..stream_config(1)
    };
    b.put_stream("c", compacted).await?;
    let keyless = b
        .append("c", vec![record(None, "v")], None)
        .await
        .err()
        .ok_or("keyless")?;
    assert_eq!(keyless.kind, ErrorKind::InvalidRequest);
    let big = b
        .append("c", vec![record(Some("k"), &"v".repeat(1024))], None)
        .await
        .err()
        .ok_or("oversize")?;
    assert_eq!(big.kind, ErrorKind::MessageTooLarge);
    assert_eq!(
        b.append("c", vec![], None).await.err().map(|e| e.kind),
        Some(ErrorKind::InvalidRequest)
    );
    assert_eq!(b.partition_info("c", 0).await?.end_offset, 0);
    let missing = b
        .append("nope", vec![to(0, "x")], None)
        .await
        .err()
        .ok_or("missing")?;
    assert_eq!(missing.kind, ErrorKind::StreamNotFound);
    let shrink = b
        .put_stream(
            "c",
            StreamConfig {
                partitions: 0,
                ..StreamConfig::default()
            },
        )
        .await;
    assert_eq!(shrink.err().map(|e| e.kind), Some(ErrorKind::InvalidConfig));
    b.put_stream("two", stream_config(2)).await?;
    let fewer = b
        .put_stream("two", stream_config(1))
        .await
        .err()
        .ok_or("shrunk")?;
    assert_eq!(fewer.kind, ErrorKind::InvalidConfig);
    b.put_stream("two", stream_config(3)).await?;
    assert_eq!(b.stream_info("two").await?.partitions.len(), 3);
    Ok(())
}

#[tokio::test]
async fn a_long_poll_read_wakes_on_append() -> TestResult {
    let dir = tempfile::tempdir()?;
    let b = Broker::open(config(dir.path())).await?;
    b.put_stream("s", stream_config(1)).await?;
    let reader = {
        let b = b.clone();
        tokio::spawn(async move {
            b.read(
                "s",
                0,
                ReadOptions {
                    from: StartOffset::Latest,
                    wait: Duration::from_secs(10),
                    ..ReadOptions::default()
                },
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    b.append("s", vec![to(0, "wake")], None).await?;
    let got = tokio::time::timeout(Duration::from_secs(5), reader).await???;
    assert_eq!(values(&got), vec!["wake"]);
    Ok(())
}

// docs/streams.md#retention
#[tokio::test]
async fn retention_by_bytes_removes_old_segments_and_reads_skip_ahead() -> TestResult {
    let dir = tempfile::tempdir()?;
    let b = Broker::open(config(dir.path())).await?;
    let small = StreamConfig {
        segment_bytes: Some(1024 * 1024),
        retention_bytes: Some(1024 * 1024),
        ..stream_config(1)
    };
    b.put_stream("s", small).await?;
    let value = "v".repeat(10_000);
    for _ in 0..40 {
        let batch = (0..10).map(|_| to(0, &value)).collect();
        b.append("s", batch, None).await?;
    }
    let mut start = 0;
    for _ in 0..200 {
        start = b.partition_info("s", 0).await?.start_offset;
        if start > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(start > 0, "retention removed nothing");
    let read = b
        .read(
            "s",
            0,
            ReadOptions {
                max_records: 1,
                ..from(0)
            },
        )
        .await?;
    assert_eq!(read.skipped_to, Some(start));
    assert_eq!(read.records[0].offset, start);
    Ok(())
}

// docs/streams.md#compaction
#[tokio::test]
async fn compaction_keeps_the_latest_value_per_key_at_its_offset() -> TestResult {
    let dir = tempfile::tempdir()?;
    let b = Broker::open(config(dir.path())).await?;
    let compacted = StreamConfig {
        cleanup: Cleanup::Compact,
        segment_bytes: Some(1024 * 1024),
        delete_retention_ms: 0,
        ..stream_config(1)
    };
    b.put_stream("kv", compacted).await?;
    let pad = "p".repeat(2_000);
    let mut latest = std::collections::BTreeMap::new();
    for round in 0..60u32 {
        let batch: Vec<NewRecord> = (0..10u32)
            .map(|k| {
                let key = format!("k{}", (round * 7 + k) % 13);
                let value = format!("{round}-{k}-{pad}");
                NewRecord {
                    partition: Some(0),
                    ..record(Some(&key), &value)
                }
            })
            .collect();
        let appended = b.append("kv", batch.clone(), None).await?;
        for (r, a) in batch.iter().zip(appended) {
            latest.insert(
                r.key.clone().unwrap_or_default(),
                (a.offset, r.value.clone()),
            );
        }
    }
    // A tombstone for one key, in the active segment: it is kept for now.
    b.append(
        "kv",
        vec![NewRecord {
            partition: Some(0),
            key: Some(b"k0".to_vec()),
            ..NewRecord::default()
        }],
        None,
    )
    .await?;
    let outcome = b.compact_stream("kv").await?;
    assert!(
        outcome.records_removed > 0 && outcome.segments_rewritten > 0,
        "{outcome:?}"
    );
    let mut seen = Vec::new();
    let mut next = 0;
    loop {
        let read = b.read("kv", 0, from(next)).await?;
        if read.records.is_empty() {
            break;
        }
        next = read.next_offset;
        seen.extend(read.records);
    }
    // Offsets strictly increase and every kept record is where it was appended.
    assert!(seen.windows(2).all(|w| w[0].offset < w[1].offset));
    let info = b.partition_info("kv", 0).await?;
    let mut last_per_key = std::collections::BTreeMap::new();
    for r in &seen {
        last_per_key.insert(
            r.record.key.clone().unwrap_or_default(),
            (r.offset, r.record.value.clone()),
        );
    }
    for (key, (offset, value)) in &latest {
        if key == b"k0" {
            continue;
        }
        assert_eq!(last_per_key.get(key), Some(&(*offset, value.clone())));
    }
    assert!(seen.len() < 600, "nothing was removed: {}", seen.len());
    assert_eq!(info.end_offset, 601);
    Ok(())
}

// docs/streams.md#consumer-groups
#[tokio::test]
async fn group_members_split_partitions_commit_and_are_fenced_after_a_rebalance() -> TestResult {
    let dir = tempfile::tempdir()?;
    let b = Broker::open(config(dir.path())).await?;
    b.put_stream("s", stream_config(4)).await?;
    for p in 0..4 {
        b.append(
            "s",
            vec![to(p, &format!("p{p}-0")), to(p, &format!("p{p}-1"))],
            None,
        )
        .await?;
    }
    let join = JoinOptions {
        offset_reset: OffsetReset::Earliest,
        ..JoinOptions::default()
    };
    let a = b.join_group("s", "g", join.clone()).await?;
    assert_eq!(a.assignment, vec![0, 1, 2, 3]);
    let polled = b
        .poll_group("s", "g", &a.member_id, a.generation, PollOptions::default())
        .await?;
    assert_eq!(polled.records.len(), 8);
    let commits = (0..4)
        .map(|p| OffsetCommit {
            partition: p,
            offset: 2,
            metadata: None,
        })
        .collect();
    let member = Committer {
        member_id: a.member_id.clone(),
        generation: a.generation,
    };
    assert_eq!(
        b.commit_offsets("s", "g", Some(member.clone()), commits)
            .await?,
        4
    );

    let c = b.join_group("s", "g", join).await?;
    assert_eq!(c.generation, a.generation + 1);
    let stale = b
        .commit_offsets(
            "s",
            "g",
            Some(member),
            vec![OffsetCommit {
                partition: 0,
                offset: 1,
                metadata: None,
            }],
        )
        .await
        .err()
        .ok_or("fenced member committed")?;
    assert_eq!(stale.kind, ErrorKind::StaleGeneration);
    let a2 = b.heartbeat("s", "g", &a.member_id, a.generation).await?;
    assert!(a2.rebalanced);
    let mut owned: Vec<u32> = a2.assignment.iter().chain(&c.assignment).copied().collect();
    owned.sort_unstable();
    assert_eq!(owned, vec![0, 1, 2, 3]);
    assert!(a2.assignment.iter().all(|p| !c.assignment.contains(p)));

    // The new member starts from the committed offsets: nothing left to read.
    b.append("s", vec![to(c.assignment[0], "new")], None)
        .await?;
    let got = b
        .poll_group("s", "g", &c.member_id, c.generation, PollOptions::default())
        .await?;
    assert_eq!(got.records.len(), 1);
    assert_eq!(got.records[0].stored.offset, 2);

    let info = b.describe_group("s", "g").await?;
    assert_eq!(info.members.len(), 2);
    assert_eq!(info.partitions[c.assignment[0] as usize].lag_records, 1);
    let busy = b
        .reset_group_offsets("s", "g", ResetTo::Earliest)
        .await
        .err()
        .ok_or("reset active")?;
    assert_eq!(busy.kind, ErrorKind::Conflict);
    Ok(())
}

#[tokio::test]
async fn an_expired_member_loses_its_partitions() -> TestResult {
    let dir = tempfile::tempdir()?;
    let b = Broker::open(config(dir.path())).await?;
    b.put_stream("s", stream_config(2)).await?;
    let short = JoinOptions {
        session_timeout: Duration::from_secs(1),
        ..JoinOptions::default()
    };
    let a = b.join_group("s", "g", short.clone()).await?;
    let c = b.join_group("s", "g", short).await?;
    assert_eq!(c.assignment.len(), 1);
    // Only c keeps its session alive.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let now = b.heartbeat("s", "g", &c.member_id, c.generation).await?;
        if now.assignment == vec![0, 1] {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "a never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let gone = b
        .heartbeat("s", "g", &a.member_id, a.generation)
        .await
        .err()
        .ok_or("a alive")?;
    assert_eq!(gone.kind, ErrorKind::UnknownMember);
    Ok(())
}

#[tokio::test]
async fn records_and_committed_offsets_survive_a_restart() -> TestResult {
    let dir = tempfile::tempdir()?;
    {
        let b = Broker::open(config(dir.path())).await?;
        b.put_stream("s", stream_config(2)).await?;
        b.append("s", vec![to(0, "a"), to(0, "b"), to(1, "c")], None)
            .await?;
        b.commit_offsets(
            "s",
            "g",
            None,
            vec![OffsetCommit {
                partition: 0,
                offset: 1,
                metadata: Some("cp".into()),
            }],
        )
        .await?;
        b.shutdown().await;
    }
    let b = Broker::open(config(dir.path())).await?;
    assert_eq!(values(&b.read("s", 0, from(0)).await?), vec!["a", "b"]);
    assert_eq!(b.append("s", vec![to(0, "d")], None).await?[0].offset, 2);
    let info = b.describe_group("s", "g").await?;
    let committed = info.partitions[0].committed.clone().ok_or("no commit")?;
    assert_eq!(
        (committed.offset, committed.metadata.as_deref()),
        (1, Some("cp"))
    );
    assert_eq!(info.partitions[0].lag_records, 2);
    let reset = b.reset_group_offsets("s", "g", ResetTo::Latest).await?;
    assert_eq!(reset, vec![(0, 3), (1, 1)]);
    b.delete_stream("s").await?;
    assert_eq!(b.list_streams()?.len(), 0);
    Ok(())
}

// docs/streams.md#offsets: the first record at or after a time, also inside one batch.
#[tokio::test]
async fn a_time_finds_the_first_record_at_or_after_it_inside_a_batch() -> TestResult {
    let dir = tempfile::tempdir()?;
    let b = Broker::open(config(dir.path())).await?;
    b.put_stream("clock", stream_config(1)).await?;
    let base = 1_700_000_000_000u64;
    let records = (0..10u64)
        .map(|i| NewRecord {
            timestamp: Some(Timestamp(base + i * 1000)),
            ..to(0, &format!("r{i}"))
        })
        .collect();
    b.append("clock", records, None).await?;
    for (asked, offset) in [(base, 0), (base + 2500, 3), (base + 9000, 9)] {
        assert_eq!(
            b.offset_for_timestamp("clock", 0, Timestamp(asked)).await?,
            Some(offset),
            "{asked}"
        );
        let found = b.record_at_time("clock", 0, Timestamp(asked)).await?;
        assert_eq!(found, Some((offset, Timestamp(base + offset * 1000))));
    }
    assert_eq!(
        b.offset_for_timestamp("clock", 0, Timestamp(base + 9001))
            .await?,
        None
    );
    b.shutdown().await;
    Ok(())
}

// docs/streams.md#reads
#[tokio::test]
async fn a_read_collects_records_across_many_batches_within_its_limits() -> TestResult {
    let dir = tempfile::tempdir()?;
    let b = Broker::open(config(dir.path())).await?;
    b.put_stream("big", stream_config(1)).await?;
    // 40 batches of 100 records of 1 KB: 4 MB, more than one log read's chunk.
    let value = "v".repeat(1000);
    for batch in 0..40 {
        let records = (0..100)
            .map(|i| record(None, &format!("{batch:02}-{i:03}-{value}")))
            .collect();
        b.append("big", records, None).await?;
    }
    let read = |offset: u64, max_records: u32, max_bytes: u32| ReadOptions {
        max_records,
        max_bytes,
        ..from(offset)
    };
    let all = b.read("big", 0, read(50, 3_000, 64 << 20)).await?;
    assert_eq!(
        all.records.len(),
        3_000,
        "every record asked for, across chunks"
    );
    let offsets: Vec<u64> = all.records.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, (50..3_050).collect::<Vec<_>>());
    assert_eq!(all.next_offset, 3_050);
    let bounded = b.read("big", 0, read(0, 4_000, 1_500_000)).await?;
    let n = bounded.records.len();
    assert!(
        (1_400..=1_500).contains(&n),
        "max_bytes bounds the read: {n} records"
    );
    assert_eq!(bounded.next_offset, n as u64);
    b.shutdown().await;
    Ok(())
}

fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

// docs/streams.md#compaction
#[tokio::test]
async fn compaction_stops_at_a_young_segment_so_a_deleted_key_stays_deleted() -> TestResult {
    let dir = tempfile::tempdir()?;
    let b = Broker::open(config(dir.path())).await?;
    let compacted = StreamConfig {
        cleanup: Cleanup::Compact,
        segment_bytes: Some(1024 * 1024),
        delete_retention_ms: 0,
        min_compaction_lag_ms: 3_600_000,
        ..stream_config(1)
    };
    b.put_stream("kv", compacted).await?;
    let now = wall_ms();
    let old = Timestamp(now - 7_200_000);
    let at = |key: Option<&str>, value: Option<String>, timestamp: Timestamp| NewRecord {
        partition: Some(0),
        timestamp: Some(timestamp),
        key: key.map(|k| k.as_bytes().to_vec()),
        value: value.map(String::into_bytes),
        ..NewRecord::default()
    };
    let filler = |n: u32| {
        (0..n)
            .map(|i| at(Some(&format!("f{i}")), Some("x".repeat(200_000)), old))
            .collect::<Vec<_>>()
    };
    // Segment 1: `k` written just now (producer clocks differ), then old filler.
    b.append(
        "kv",
        vec![at(Some("k"), Some("v1".into()), Timestamp(now))],
        None,
    )
    .await?;
    for _ in 0..6 {
        b.append("kv", filler(1), None).await?;
    }
    // Segment 2: an old tombstone for `k`, then old filler; an active segment after.
    b.append("kv", vec![at(Some("k"), None, old)], None).await?;
    for _ in 0..12 {
        b.append("kv", filler(1), None).await?;
    }
    assert!(b.partition_info("kv", 0).await?.segments >= 3);
    b.compact_stream("kv").await?;
    let mut last_k = Some(b"v1".to_vec());
    let mut next = 0;
    loop {
        let read = b.read("kv", 0, from(next)).await?;
        if read.records.is_empty() {
            break;
        }
        next = read.next_offset;
        for r in read.records {
            if r.record.key.as_deref() == Some(b"k") {
                last_k = r.record.value;
            }
        }
    }
    assert_eq!(last_k, None, "the deleted key came back");
    b.shutdown().await;
    Ok(())
}

// docs/streams.md#reads
#[tokio::test]
async fn a_read_below_a_start_inside_a_batch_skips_the_deleted_records() -> TestResult {
    let dir = tempfile::tempdir()?;
    let b = Broker::open(config(dir.path())).await?;
    b.put_stream("s", stream_config(1)).await?;
    let batch: Vec<NewRecord> = (0..10).map(|i| to(0, &format!("v{i}"))).collect();
    b.append("s", batch, None).await?;
    b.delete_records("s", 0, 5).await?;
    let read = b.read("s", 0, from(0)).await?;
    assert_eq!(read.records.first().map(|r| r.offset), Some(5));
    assert_eq!(read.skipped_to, Some(5));
    assert_eq!(values(&read), ["v5", "v6", "v7", "v8", "v9"]);
    b.shutdown().await;
    Ok(())
}
