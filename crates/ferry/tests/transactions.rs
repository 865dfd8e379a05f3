//! Consume-transform-produce against the real binary: workers ack input and publish output in
//! one transaction; `kill -9` in the middle; after restart every input is in the output
//! exactly once.

mod common;

use common::{DataDir, Server, call_json, raw, runtime};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const INPUTS: usize = 600;
const WORKERS: usize = 4;
/// Answered transactions (of some 200) to wait for before pulling the plug.
const ANSWERED_BEFORE_KILL: usize = 60;

async fn ok_json(server: &Server, method: Method, path: &str, body: Value) -> Value {
    let (status, reply) = call_json(server, method, path, Some(&body.to_string())).await;
    assert!((200..300).contains(&status), "{path}: {status} {reply}");
    reply
}

/// Receives up to 3 inputs at a time and, per batch, acks them and publishes their
/// transformed bodies to a queue and a stream in one transaction; stops when the server
/// goes away or the input stays empty for 3 s (longer than a lease cut short by a crash).
async fn worker(url: String, answered: Arc<AtomicUsize>) {
    let http = raw();
    let mut idle = 0;
    while idle < 10 {
        let Ok(reply) = http
            .post(format!("{url}/v1/queues/in/receive"))
            .json(&json!({"max": 3, "wait_ms": 300}))
            .send()
            .await
        else {
            return;
        };
        let Ok(reply) = reply.json::<Value>().await else {
            return;
        };
        let messages = reply["messages"].as_array().cloned().unwrap_or_default();
        if messages.is_empty() {
            idle += 1;
            continue;
        }
        idle = 0;
        let acks: Vec<Value> = messages
            .iter()
            .map(|m| json!({"queue": "in", "receipt": m["receipt"]}))
            .collect();
        let outputs: Vec<String> = messages
            .iter()
            .map(|m| format!("out:{}", m["body"].as_str().unwrap_or_default()))
            .collect();
        let transaction = json!({
            "ack": acks,
            "publish": [
                {"queue": "out", "messages": outputs.iter().map(|o| json!({"body": o})).collect::<Vec<_>>()},
                {"stream": "log", "records": outputs.iter().map(|o| json!({"key": o, "value": o})).collect::<Vec<_>>()},
            ],
        });
        let Ok(response) = http
            .post(format!("{url}/v1/transactions"))
            .json(&transaction)
            .send()
            .await
        else {
            return;
        };
        let status = response.status();
        if status.is_success() {
            answered.fetch_add(1, Ordering::SeqCst);
        } else {
            let body = response.text().await.unwrap_or_default();
            panic!("transaction refused: {status} {body}");
        }
    }
}

/// Bodies of every message in `out` (received and acked) and every record value in `log`.
async fn outputs(server: &Server) -> (Vec<String>, Vec<String>) {
    let mut messages = Vec::new();
    loop {
        let reply = ok_json(
            server,
            Method::POST,
            "/v1/queues/out/receive",
            json!({"max": 100, "auto_ack": true}),
        )
        .await;
        let batch = reply["messages"].as_array().cloned().unwrap_or_default();
        if batch.is_empty() {
            break;
        }
        messages.extend(
            batch
                .iter()
                .map(|m| m["body"].as_str().unwrap_or_default().to_owned()),
        );
    }
    let (status, body) = call_json(
        server,
        Method::GET,
        "/v1/streams/log/partitions/0/records?offset=0&max_records=10000",
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let records = body["records"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| r["value"].as_str().unwrap_or_default().to_owned())
        .collect();
    (messages, records)
}

fn counts(items: &[String]) -> BTreeMap<&str, usize> {
    let mut counts = BTreeMap::new();
    for item in items {
        *counts.entry(item.as_str()).or_default() += 1;
    }
    counts
}

#[test]
fn each_input_is_published_exactly_once_across_kill_9() {
    let dir = DataDir::new();
    let server = Server::start(&dir, &[]);
    runtime().block_on(async {
        ok_json(
            &server,
            Method::PUT,
            "/v1/queues/in",
            json!({"visibility_timeout_ms": 1000}),
        )
        .await;
        ok_json(&server, Method::PUT, "/v1/queues/out", json!({})).await;
        ok_json(
            &server,
            Method::PUT,
            "/v1/streams/log",
            json!({"partitions": 1}),
        )
        .await;
        for chunk in (0..INPUTS).collect::<Vec<_>>().chunks(100) {
            let messages: Vec<Value> = chunk
                .iter()
                .map(|i| json!({"body": format!("in-{i}")}))
                .collect();
            ok_json(
                &server,
                Method::POST,
                "/v1/queues/in/messages",
                json!({"messages": messages}),
            )
            .await;
        }
    });
    let answered = Arc::new(AtomicUsize::new(0));
    let rt = runtime();
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| rt.spawn(worker(server.url(), answered.clone())))
        .collect();
    rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(30);
        while answered.load(Ordering::SeqCst) < ANSWERED_BEFORE_KILL && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    let server = server.crash_restart();
    rt.block_on(async {
        for w in workers {
            let _ = w.await;
        }
        assert!(answered.load(Ordering::SeqCst) >= ANSWERED_BEFORE_KILL);
        // Finish the rest (leases cut short by the crash run out after a second).
        let workers: Vec<_> = (0..WORKERS)
            .map(|_| tokio::spawn(worker(server.url(), Arc::new(AtomicUsize::new(0)))))
            .collect();
        for w in workers {
            let _ = w.await;
        }
        let (_, info) = call_json(&server, Method::GET, "/v1/queues/in", None).await;
        assert_eq!(info["stats"]["visible"], 0, "{info}");
        assert_eq!(info["stats"]["in_flight"], 0, "{info}");
        // Outputs land right after each answer.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (messages, records) = outputs(&server).await;
        let expected: Vec<String> = (0..INPUTS).map(|i| format!("out:in-{i}")).collect();
        let expected = counts(&expected);
        assert_eq!(
            counts(&messages),
            expected,
            "queue output: each input exactly once"
        );
        assert_eq!(
            counts(&records),
            expected,
            "stream output: each input exactly once"
        );
    });
    server.kill();
}
