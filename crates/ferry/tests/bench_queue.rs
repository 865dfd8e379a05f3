//! `ferry bench queue` against the real binary, through the native API and through the SQS
//! endpoint: every message received once, the report's counts consistent, and the bench's
//! queue gone afterwards.

mod common;

use common::{DataDir, Server, call_json, runtime};
use reqwest::Method;
use serde_json::Value;

fn bench(server: &Server, args: &[&str]) -> (bool, Value, String) {
    common::bench(server, "queue", args)
}

fn queues(server: &Server) -> Value {
    runtime().block_on(async {
        let (_, queues) = call_json(server, Method::GET, "/v1/queues", None).await;
        queues["queues"].clone()
    })
}

#[test]
fn every_message_arrives_once_through_either_api() {
    let dir = DataDir::new();
    let server = Server::start(&dir, &[]);
    for protocol in ["native", "sqs"] {
        let args = [
            "--protocol",
            protocol,
            "--messages",
            "2000",
            "--batch",
            "10",
            "--inflight",
            "4",
            "--producers",
            "2",
            "--consumers",
            "2",
            "--size",
            "200",
        ];
        let (ok, report, stderr) = bench(&server, &args);
        assert!(ok, "{protocol}: bench failed: {stderr}\n{report}");
        assert_eq!(report["workload"]["protocol"], protocol, "{report}");
        for count in ["lost", "duplicated", "malformed", "ack_failures"] {
            assert_eq!(report[count], 0, "{protocol} {count}: {report}");
        }
        for count in ["sent_messages", "received_messages", "acked_messages"] {
            assert_eq!(report[count], 2000, "{protocol} {count}: {report}");
        }
        assert_eq!(report["queue_deleted"], true, "{report}");
    }
    assert_eq!(queues(&server), Value::Array(vec![]));
}

#[test]
fn sqs_batches_over_ten_are_refused_before_anything_is_sent() {
    let dir = DataDir::new();
    let server = Server::start(&dir, &[]);
    let (ok, _, stderr) = bench(&server, &["--protocol", "sqs", "--batch", "11"]);
    assert!(!ok);
    assert!(stderr.contains("at most 10"), "{stderr}");
    assert_eq!(queues(&server), Value::Array(vec![]));
}
