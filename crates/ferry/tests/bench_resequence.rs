//! `ferry bench resequence` against the real binary: a small workload through the CLI, whose
//! JSON report must show every result once and in its key's order, and the bench's queue and
//! stream gone afterwards.

mod common;

use common::{DataDir, Server, call_json, runtime};
use reqwest::Method;
use serde_json::Value;

fn bench(server: &Server, args: &[&str]) -> (bool, Value, String) {
    common::bench(server, "resequence", args)
}

/// The small workload: 300 messages over 3 keys, 4 workers.
const WORKLOAD: [&str; 8] = [
    "--messages",
    "300",
    "--keys",
    "3",
    "--workers",
    "4",
    "--send-batch",
    "50",
];

/// Names of every queue and stream the server holds.
fn leftovers(server: &Server) -> (Value, Value) {
    runtime().block_on(async {
        let (_, queues) = call_json(server, Method::GET, "/v1/queues", None).await;
        let (_, streams) = call_json(server, Method::GET, "/v1/streams", None).await;
        (queues["queues"].clone(), streams["streams"].clone())
    })
}

#[test]
fn every_result_arrives_once_in_key_order_and_the_bench_cleans_up() {
    let dir = DataDir::new();
    let server = Server::start(&dir, &[]);
    let (ok, report, stderr) = bench(&server, &WORKLOAD);
    assert!(ok, "bench failed: {stderr}\n{report}");
    assert_eq!(report["workload"]["mode"], "resequence", "{report}");
    assert_eq!(report["workload"]["keys"], 3, "{report}");
    let results = &report["results"];
    for count in [
        "lost",
        "duplicated",
        "out_of_order",
        "mismatched",
        "malformed",
    ] {
        assert_eq!(results[count], 0, "{count}: {report}");
    }
    assert_eq!(results["found"], 300, "{report}");
    assert_eq!(results["acknowledged"], 300, "{report}");
    for count in ["lost", "duplicated", "unsettled"] {
        assert_eq!(report["deliveries"][count], 0, "{count}: {report}");
    }
    let throughput = report["throughput_per_s"].as_f64().unwrap_or_default();
    assert!(throughput > 0.0, "{report}");
    assert_eq!(report["visible_latency"]["samples"], 300, "{report}");
    assert_eq!(report["release_latency"]["samples"], 300, "{report}");
    assert_eq!(report["deleted"], true, "{report}");
    assert_eq!(
        leftovers(&server),
        (Value::Array(vec![]), Value::Array(vec![])),
        "the queue and its output stream are deleted"
    );
    server.kill();
}

#[test]
fn the_plain_baseline_acks_every_message_once() {
    let dir = DataDir::new();
    let server = Server::start(&dir, &[]);
    let mut args = WORKLOAD.to_vec();
    args.push("--plain");
    let (ok, report, stderr) = bench(&server, &args);
    assert!(ok, "bench failed: {stderr}\n{report}");
    assert_eq!(report["workload"]["mode"], "plain", "{report}");
    assert_eq!(report["results"], Value::Null, "no output stream: {report}");
    assert_eq!(report["stream"], Value::Null, "{report}");
    for count in ["lost", "duplicated", "unsettled", "malformed"] {
        assert_eq!(report["deliveries"][count], 0, "{count}: {report}");
    }
    assert_eq!(report["deliveries"]["settled"], 300, "{report}");
    assert_eq!(report["done_messages"], 300, "{report}");
    let throughput = report["throughput_per_s"].as_f64().unwrap_or_default();
    assert!(throughput > 0.0, "{report}");
    let calls = report["call_latency"]["samples"]
        .as_u64()
        .unwrap_or_default();
    assert!(calls >= 30, "at most 10 messages per ack: {report}");
    server.kill();
}
