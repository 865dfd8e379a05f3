//! Ordered parallel processing against the real binary: workers complete one key's messages in
//! parallel and in random order, and the output stream receives the results in arrival order,
//! each once, across `kill -9`.

mod common;

use common::{DataDir, Server, call_json, ferry_cli, runtime};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const MESSAGES: usize = 200;
const ARRIVAL_EVERY: Duration = Duration::from_millis(25);
const WORK: Duration = Duration::from_millis(75);
const WORKERS: usize = 4;

async fn ok_json(server: &Server, method: Method, path: &str, body: Value) -> Value {
    let (status, reply) = call_json(server, method, path, Some(&body.to_string())).await;
    assert!((200..300).contains(&status), "{path}: {status} {reply}");
    reply
}

async fn setup(server: &Server, gap_policy: &str, visibility_ms: u64) {
    ok_json(server, Method::PUT, "/v1/streams/out", json!({})).await;
    let config = json!({
        "visibility_timeout_ms": visibility_ms,
        "resequence": {"output": {"stream": "out"}, "gap_policy": gap_policy},
    });
    ok_json(server, Method::PUT, "/v1/queues/work", config).await;
}

/// Every record of partition 0 of `out` as (key, value, source id).
async fn output(server: &Server) -> Vec<(String, String, String)> {
    let path = "/v1/streams/out/partitions/0/records?offset=0&max_records=10000";
    let (status, body) = call_json(server, Method::GET, path, None).await;
    assert_eq!(status, 200, "{body}");
    body["records"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let source = r["headers"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|h| h["name"] == "ferry-source-id")
                .and_then(|h| h["value"].as_str())
                .unwrap_or_default();
            (
                r["key"].as_str().unwrap_or_default().to_owned(),
                r["value"].as_str().unwrap_or_default().to_owned(),
                source.to_owned(),
            )
        })
        .collect()
}

async fn wait_for_output(server: &Server, count: usize) -> Vec<(String, String, String)> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = output(server).await;
        if out.len() >= count || Instant::now() > deadline {
            return out;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A worker: receives one message at a time, "processes" it for about `WORK` (±1/3, so
/// completions come out of order), and completes it with the body upper-cased.
async fn worker(
    url: String,
    done: Arc<AtomicUsize>,
    busy: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
) {
    let http = common::raw();
    let mut seed = url.len() as u64 + done.load(Ordering::Relaxed) as u64 + 7;
    while done.load(Ordering::Relaxed) < MESSAGES {
        let reply: Value = match http
            .post(format!("{url}/v1/queues/work/receive"))
            .json(&json!({"max": 1, "wait_ms": 200}))
            .send()
            .await
        {
            Ok(r) => r.json().await.unwrap_or(Value::Null),
            Err(_) => return,
        };
        for m in reply["messages"].as_array().into_iter().flatten() {
            let now_busy = busy.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now_busy, Ordering::SeqCst);
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let jitter = (seed >> 33) % 50;
            tokio::time::sleep(WORK - Duration::from_millis(25) + Duration::from_millis(jitter))
                .await;
            busy.fetch_sub(1, Ordering::SeqCst);
            let result = m["body"].as_str().unwrap_or_default().to_uppercase();
            let completion = json!({"completions": [{"receipt": m["receipt"], "body": result}]});
            let reply: Value = http
                .post(format!("{url}/v1/queues/work/complete"))
                .json(&completion)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .json()
                .await
                .unwrap_or(Value::Null);
            assert_eq!(reply["ok"], 1, "{reply}");
            done.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// The motivating case: one message every 25 ms for one key, 75 ms of work each, 4 workers.
#[test]
fn parallel_workers_release_one_key_in_arrival_order() {
    let dir = DataDir::new();
    let server = Server::start(&dir, &[]);
    runtime().block_on(async {
        setup(&server, "skip", 10_000).await;
        let (done, busy, peak) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
        );
        let workers: Vec<_> = (0..WORKERS)
            .map(|_| tokio::spawn(worker(server.url(), done.clone(), busy.clone(), peak.clone())))
            .collect();
        let start = Instant::now();
        let mut ids = Vec::new();
        for i in 0..MESSAGES {
            let body = json!({"messages": [{"body": format!("order-{i:03}"), "group": "customer-1"}]});
            let reply = ok_json(&server, Method::POST, "/v1/queues/work/messages", body).await;
            ids.push(reply["messages"][0]["id"].as_str().unwrap_or_default().to_owned());
            tokio::time::sleep_until((start + ARRIVAL_EVERY * (i as u32 + 1)).into()).await;
        }
        let out = wait_for_output(&server, MESSAGES).await;
        let elapsed = start.elapsed();
        for w in workers {
            let _ = w.await;
        }
        let values: Vec<String> = out.iter().map(|o| o.1.clone()).collect();
        let expected: Vec<String> = (0..MESSAGES).map(|i| format!("ORDER-{i:03}")).collect();
        assert_eq!(values, expected, "results leave in arrival order, each once");
        assert!(out.iter().all(|o| o.0 == "customer-1"));
        let sources: Vec<String> = out.iter().map(|o| o.2.clone()).collect();
        assert_eq!(sources, ids);
        // One worker would need 200 × 75 ms = 15 s; arrivals alone take 5 s.
        let serial = WORK * MESSAGES as u32;
        let peak = peak.load(Ordering::SeqCst);
        eprintln!(
            "200 results in {elapsed:?} (one worker: {serial:?}, {:.1}× faster); peak parallel work {peak}",
            serial.as_secs_f64() / elapsed.as_secs_f64()
        );
        assert!(peak >= 3, "one key's messages were processed in parallel ({peak} at most)");
        assert!(
            elapsed < serial / 2,
            "{elapsed:?} is not parallel (one worker: {serial:?})"
        );
        let (_, info) = call_json(&server, Method::GET, "/v1/queues/work", None).await;
        let stats = &info["stats"]["resequence"];
        assert_eq!(stats["completed_total"], MESSAGES, "{info}");
        assert_eq!(stats["held_back"], 0, "{info}");
    });
    server.kill();
}

async fn send_keys(
    server: &Server,
    keys: &[&str],
    per_key: usize,
) -> BTreeMap<String, Vec<String>> {
    let mut ids: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for i in 0..per_key {
        let messages: Vec<Value> = keys
            .iter()
            .map(|k| json!({"body": format!("{k}-{i}"), "group": k}))
            .collect();
        let reply = ok_json(
            server,
            Method::POST,
            "/v1/queues/work/messages",
            json!({"messages": messages}),
        )
        .await;
        for (k, sent) in keys
            .iter()
            .zip(reply["messages"].as_array().into_iter().flatten())
        {
            ids.entry((*k).to_owned())
                .or_default()
                .push(sent["id"].as_str().unwrap_or_default().to_owned());
        }
    }
    ids
}

async fn receive_all(server: &Server, count: usize) -> Vec<Value> {
    let mut got = Vec::new();
    while got.len() < count {
        let reply = ok_json(
            server,
            Method::POST,
            "/v1/queues/work/receive",
            json!({"max": 100, "wait_ms": 500}),
        )
        .await;
        got.extend(reply["messages"].as_array().cloned().unwrap_or_default());
    }
    got
}

async fn complete(server: &Server, messages: &[&Value]) {
    let completions: Vec<Value> = messages
        .iter()
        .map(|m| json!({"receipt": m["receipt"], "body": format!("done:{}", m["body"].as_str().unwrap_or_default())}))
        .collect();
    for chunk in completions.chunks(50) {
        let reply = ok_json(
            server,
            Method::POST,
            "/v1/queues/work/complete",
            json!({"completions": chunk}),
        )
        .await;
        assert_eq!(reply["ok"], chunk.len(), "{reply}");
    }
}

fn check_output(out: &[(String, String, String)], ids: &BTreeMap<String, Vec<String>>) {
    let mut by_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (key, _, source) in out {
        by_key.entry(key.clone()).or_default().push(source.clone());
    }
    assert_eq!(
        &by_key, ids,
        "each key's results, in arrival order, each once"
    );
}

/// `kill -9` while results are held back and while they are being released: after each
/// restart every held-back result is released in order and none twice.
#[test]
fn held_back_results_survive_kill_9_and_are_released_once() {
    let dir = DataDir::new();
    let server = Server::start(&dir, &[]);
    let keys = ["a", "b", "c"];
    let (ids, first) = runtime().block_on(async {
        setup(&server, "skip", 60_000).await;
        let ids = send_keys(&server, &keys, 100).await;
        let got = receive_all(&server, 300).await;
        // Everything but each key's first message: 297 results held back.
        let (first, rest): (Vec<&Value>, Vec<&Value>) = got.iter().partition(|m| {
            ids.values()
                .any(|list| list.first().map(String::as_str) == m["id"].as_str())
        });
        complete(&server, &rest).await;
        let (_, info) = call_json(&server, Method::GET, "/v1/queues/work", None).await;
        assert_eq!(info["stats"]["resequence"]["held_back"], 297, "{info}");
        // Free key a, then pull the plug while its 100 results are on their way out.
        let a_first: Vec<&Value> = first
            .iter()
            .copied()
            .filter(|m| m["group"] == "a")
            .collect();
        complete(&server, &a_first).await;
        let first: Vec<Value> = first
            .into_iter()
            .filter(|m| m["group"] != "a")
            .cloned()
            .collect();
        (ids, first)
    });
    let server = server.crash_restart();
    runtime().block_on(async {
        let (_, info) = call_json(&server, Method::GET, "/v1/queues/work", None).await;
        assert_eq!(info["stats"]["resequence"]["held_back"], 198, "{info}");
        // The leases survived too: the saved receipts complete keys b and c.
        let heads: Vec<&Value> = first.iter().collect();
        complete(&server, &heads).await;
        let out = wait_for_output(&server, 300).await;
        check_output(&out, &ids);
    });
    // Crash again right after everything was released: nothing is handed over twice.
    let server = server.crash_restart();
    runtime().block_on(async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let out = output(&server).await;
        check_output(&out, &ids);
        let (_, info) = call_json(&server, Method::GET, "/v1/queues/work", None).await;
        let stats = &info["stats"]["resequence"];
        assert_eq!(
            (stats["held_back"].as_u64(), stats["releasing"].as_u64()),
            (Some(0), Some(0)),
            "{info}"
        );
    });
    server.kill();
}

/// Runs `ferry …` and returns its stdout, failing the test if it fails.
fn ferry_ok(server: &Server, args: &[&str]) -> String {
    let (ok, out, err) = ferry_cli(server, args, None);
    assert!(ok, "ferry {args:?} failed: {err}");
    out
}

/// The CLI covers resequencing and transactions end to end.
#[test]
fn the_cli_completes_skips_gaps_and_runs_transactions() {
    let dir = DataDir::new();
    let server = Server::start(&dir, &[]);
    ferry_ok(&server, &["stream", "create", "out"]);
    ferry_ok(
        &server,
        &[
            "queue",
            "create",
            "work",
            "--resequence-stream",
            "out",
            "--gap-policy",
            "block",
            "--gap-markers",
        ],
    );
    ferry_ok(&server, &["queue", "create", "plain"]);
    ferry_ok(
        &server,
        &["queue", "send", "work", "--group", "k", "first", "second"],
    );
    let received: Value = serde_json::from_str(&ferry_ok(
        &server,
        &["queue", "recv", "work", "--max", "2", "--json"],
    ))
    .unwrap_or_default();
    let receipt = |i: usize| {
        received["messages"][i]["receipt"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    // The first message is acked without a result: a gap that blocks key k.
    ferry_ok(&server, &["queue", "ack", "work", &receipt(0)]);
    ferry_ok(
        &server,
        &["queue", "complete", "work", &receipt(1), "SECOND"],
    );
    let (again, _, err) = ferry_cli(
        &server,
        &["queue", "complete", "work", &receipt(1), "x"],
        None,
    );
    assert!(!again && err.contains("already_completed"), "{err}");
    let skipped = ferry_ok(&server, &["queue", "skip-gaps", "work", "--key", "k"]);
    assert!(skipped.contains("skipped 1"), "{skipped}");
    runtime().block_on(async {
        let out = wait_for_output(&server, 2).await;
        let values: Vec<&str> = out.iter().map(|o| o.1.as_str()).collect();
        assert_eq!(values.len(), 2, "{out:?}");
        assert_eq!(values[1], "SECOND", "the gap marker comes first: {out:?}");
    });
    // A transaction from the CLI: ack one plain message, publish a message and a record.
    ferry_ok(&server, &["queue", "send", "plain", "job"]);
    let received: Value =
        serde_json::from_str(&ferry_ok(&server, &["queue", "recv", "plain", "--json"]))
            .unwrap_or_default();
    let ack = format!(
        "plain={}",
        received["messages"][0]["receipt"]
            .as_str()
            .unwrap_or_default()
    );
    ferry_ok(&server, &["queue", "create", "done"]);
    let txn = ferry_ok(
        &server,
        &[
            "txn",
            "--ack",
            &ack,
            "--send",
            "done=job done",
            "--append",
            "out=k=logged",
            "--keyed",
        ],
    );
    assert!(txn.contains("acked 1, published 2"), "{txn}");
    runtime().block_on(async {
        let out = wait_for_output(&server, 3).await;
        assert_eq!(
            out.last().map(|o| (o.0.as_str(), o.1.as_str())),
            Some(("k", "logged"))
        );
    });
    let (refused, _, err) = ferry_cli(
        &server,
        &["txn", "--ack", &ack, "--send", "done=again"],
        None,
    );
    assert!(!refused && err.contains("stale_receipt"), "{err}");
    server.kill();
}
