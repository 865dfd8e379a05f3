//! Bad input gets a 4xx JSON error and changes nothing.

mod common;

use common::{DataDir, Server, raw, runtime};
use ferry_client::api::QueueConfig;
use reqwest::Method;
use serde_json::Value;

/// Sends a raw request; returns the status and the parsed JSON body (Null if none).
async fn call(server: &Server, method: Method, path: &str, body: Option<&str>) -> (u16, Value) {
    let mut request = raw().request(method, format!("{}{path}", server.url()));
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_owned());
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap_or_default();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn code(reply: &Value) -> &str {
    reply["error"]["code"].as_str().unwrap_or("<no error code>")
}

fn message(reply: &Value) -> &str {
    reply["error"]["message"].as_str().unwrap_or("")
}

#[test]
fn bad_sends_are_refused_and_nothing_is_enqueued() {
    let dir = DataDir::new();
    let server = Server::start(&dir, &["--max-request-bytes", "2048"]);
    let client = server.client();
    runtime().block_on(async {
        client
            .put_queue("q", &QueueConfig::default())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let path = "/v1/queues/q/messages";
        let big = format!(r#"{{"messages":[{{"body":"{}"}}]}}"#, "x".repeat(4096));
        let cases: Vec<(&str, u16, &str, &str)> = vec![
            (
                r#"{"messages": ["#,
                400,
                "invalid_request",
                "invalid JSON body",
            ),
            ("not json", 400, "invalid_request", "expected"),
            (
                r#"{"messages": "x"}"#,
                400,
                "invalid_request",
                "invalid type",
            ),
            (
                r#"{"messages": [{"body": "a", "colour": 1}]}"#,
                400,
                "invalid_request",
                "unknown field `colour`",
            ),
            (
                r#"{"messages": [], "extra": true}"#,
                400,
                "invalid_request",
                "unknown field `extra`",
            ),
            (
                r#"{"messages": []}"#,
                400,
                "invalid_request",
                "messages must not be empty",
            ),
            (
                r#"{"messages": [{"body": "a"}, {"body": "b", "body_base64": "Yg=="}]}"#,
                400,
                "invalid_request",
                "messages[1]",
            ),
            (
                r#"{"messages": [{"attributes": {}}]}"#,
                400,
                "invalid_request",
                "one of body or body_base64 is required",
            ),
            (
                r#"{"messages": [{"body_base64": "***"}]}"#,
                400,
                "invalid_request",
                "not valid base64",
            ),
            (
                r#"{"messages": [{"body": "a", "priority": 1000}]}"#,
                400,
                "invalid_request",
                "1000",
            ),
            (
                r#"{"messages": [{"body": "a", "delay_ms": -5}]}"#,
                400,
                "invalid_request",
                "-5",
            ),
            (
                r#"{"messages": [{"body": "a", "deliver_at": "next tuesday"}]}"#,
                400,
                "invalid_request",
                "RFC 3339",
            ),
            ("", 400, "invalid_request", "empty"),
            (&big, 413, "request_too_large", "max_request_bytes"),
        ];
        for (body, status, expected_code, fragment) in cases {
            let (got, reply) = call(&server, Method::POST, path, Some(body)).await;
            assert_eq!(
                (got, code(&reply)),
                (status, expected_code),
                "{body:.80}: {reply}"
            );
            assert!(message(&reply).contains(fragment), "{body:.80}: {reply}");
        }
        let stats = client
            .queue_info("q")
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .stats;
        assert_eq!(
            (stats.visible, stats.delayed, stats.enqueued_total),
            (0, 0, 0)
        );
    });
}

#[test]
fn unknown_queues_invalid_names_and_bad_configs() {
    let dir = DataDir::new();
    let server = Server::start(&dir, &[]);
    runtime().block_on(async {
        let (status, reply) = call(&server, Method::GET, "/v1/queues/nope", None).await;
        assert_eq!((status, code(&reply)), (404, "queue_not_found"), "{reply}");
        let (status, reply) = call(
            &server,
            Method::POST,
            "/v1/queues/nope/messages",
            Some(r#"{"messages":[{"body":"a"}]}"#),
        )
        .await;
        assert_eq!((status, code(&reply)), (404, "queue_not_found"), "{reply}");
        let (status, reply) = call(&server, Method::POST, "/v1/queues/nope/receive", None).await;
        assert_eq!((status, code(&reply)), (404, "queue_not_found"), "{reply}");

        let (status, reply) = call(&server, Method::PUT, "/v1/queues/bad%20name", Some("{}")).await;
        assert_eq!((status, code(&reply)), (400, "invalid_name"), "{reply}");
        let (status, reply) = call(
            &server,
            Method::PUT,
            "/v1/queues/q",
            Some(r#"{"visiblity_timeout_ms": 5}"#),
        )
        .await;
        assert_eq!((status, code(&reply)), (400, "invalid_request"), "{reply}");
        assert!(
            message(&reply).contains("unknown field `visiblity_timeout_ms`"),
            "{reply}"
        );
        let (status, reply) = call(
            &server,
            Method::PUT,
            "/v1/queues/q",
            Some(r#"{"visibility_timeout_ms": "5"}"#),
        )
        .await;
        assert_eq!((status, code(&reply)), (400, "invalid_request"), "{reply}");
        let (status, reply) = call(
            &server,
            Method::PUT,
            "/v1/queues/q",
            Some(r#"{"fifo": true}"#),
        )
        .await;
        assert_eq!((status, code(&reply)), (400, "invalid_config"), "{reply}");
        let (status, reply) = call(&server, Method::GET, "/v1/queues", None).await;
        assert_eq!(status, 200);
        assert_eq!(
            reply["queues"],
            serde_json::json!([]),
            "nothing was created"
        );

        // An empty body is a queue with defaults.
        let (status, reply) = call(&server, Method::PUT, "/v1/queues/q", None).await;
        assert_eq!(status, 201, "{reply}");
        assert_eq!(reply["config"]["visibility_timeout_ms"], 30_000);
    });
}

#[test]
fn bad_receipts_queries_ids_routes_and_methods() {
    let dir = DataDir::new();
    let server = Server::start(&dir, &[]);
    let client = server.client();
    runtime().block_on(async {
        client
            .put_queue("q", &QueueConfig::default())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let cases: Vec<(Method, &str, Option<&str>, u16, &str)> = vec![
            (
                Method::POST,
                "/v1/queues/q/ack",
                Some(r#"{"receipts": []}"#),
                400,
                "invalid_request",
            ),
            (
                Method::POST,
                "/v1/queues/q/ack",
                Some(r#"{"receipt": ["a"]}"#),
                400,
                "invalid_request",
            ),
            (
                Method::POST,
                "/v1/queues/q/nack",
                Some(r#"{"receipts": ["a"], "delay_ms": "soon"}"#),
                400,
                "invalid_request",
            ),
            (
                Method::POST,
                "/v1/queues/q/visibility",
                Some(r#"{"receipts": ["a"]}"#),
                400,
                "invalid_request",
            ),
            (
                Method::POST,
                "/v1/queues/q/receive",
                Some(r#"{"max": "ten"}"#),
                400,
                "invalid_request",
            ),
            (
                Method::POST,
                "/v1/queues/q/redrive",
                Some(r#"{"speed": 1}"#),
                400,
                "invalid_request",
            ),
            (
                Method::GET,
                "/v1/queues/q/messages?limit=0",
                None,
                400,
                "invalid_request",
            ),
            (
                Method::GET,
                "/v1/queues/q/messages?limit=5000",
                None,
                400,
                "invalid_request",
            ),
            (
                Method::GET,
                "/v1/queues/q/messages?limit=abc",
                None,
                400,
                "invalid_request",
            ),
            (
                Method::GET,
                "/v1/queues/q/messages?lim=5",
                None,
                400,
                "invalid_request",
            ),
            (
                Method::DELETE,
                "/v1/queues/q/messages/not-an-id",
                None,
                400,
                "invalid_request",
            ),
            (Method::GET, "/v2/queues", None, 404, "not_found"),
            (Method::GET, "/v1/queues/q/nothing", None, 404, "not_found"),
            (
                Method::PATCH,
                "/v1/queues/q",
                Some("{}"),
                405,
                "method_not_allowed",
            ),
            (
                Method::GET,
                "/v1/queues/q/ack",
                None,
                405,
                "method_not_allowed",
            ),
            (
                Method::DELETE,
                "/v1/queues",
                None,
                405,
                "method_not_allowed",
            ),
        ];
        for (method, path, body, status, expected) in cases {
            let (got, reply) = call(&server, method.clone(), path, body).await;
            assert_eq!(
                (got, code(&reply)),
                (status, expected),
                "{method} {path}: {reply}"
            );
            assert!(!message(&reply).is_empty(), "{method} {path}: {reply}");
        }
        // A receipt the broker never issued fails per receipt, not as a whole.
        let (status, reply) = call(
            &server,
            Method::POST,
            "/v1/queues/q/ack",
            Some(r#"{"receipts": ["garbage"]}"#),
        )
        .await;
        assert_eq!(status, 200, "{reply}");
        assert_eq!(reply["ok"], 0);
        assert_eq!(reply["failed"][0]["receipt"], "garbage");
        assert!(reply["failed"][0]["error"]["code"].is_string(), "{reply}");
        // An empty receive body means the defaults.
        let (status, reply) = call(&server, Method::POST, "/v1/queues/q/receive", None).await;
        assert_eq!(
            (status, &reply["messages"]),
            (200, &serde_json::json!([])),
            "{reply}"
        );
        let info = client
            .queue_info("q")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(info.stats.enqueued_total, 0);
    });
}
