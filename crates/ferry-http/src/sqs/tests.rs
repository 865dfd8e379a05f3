//! The SQS endpoint in-process: both protocols through the real router and a real broker.

use crate::HttpConfig;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use ferry_broker::{Broker, BrokerConfig};
use serde_json::{Value, json};
use tower::ServiceExt;

struct Harness {
    app: axum::Router,
    broker: Broker,
    _dir: tempfile::TempDir,
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let broker = Broker::open(BrokerConfig {
        data_dir: dir.path().to_path_buf(),
        ..BrokerConfig::default()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let app = crate::router(broker.clone(), &HttpConfig::default());
    Harness {
        app,
        broker,
        _dir: dir,
    }
}

struct Reply {
    status: StatusCode,
    query_error: Option<String>,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

async fn send(app: &axum::Router, request: Request<Body>) -> Reply {
    let response = app
        .clone()
        .oneshot(request)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let status = response.status();
    let query_error = response
        .headers()
        .get("x-amzn-query-error")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    Reply {
        status,
        query_error,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

async fn json_call(app: &axum::Router, action: &str, input: Value) -> Reply {
    let request = Request::post("/")
        .header("host", "example.test:9")
        .header("x-amz-target", format!("AmazonSQS.{action}"))
        .header("content-type", "application/x-amz-json-1.0")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKID/20250101/eu-west-3/sqs/aws4_request, SignedHeaders=host, Signature=00",
        )
        .body(Body::from(input.to_string()))
        .unwrap_or_else(|e| panic!("{e}"));
    send(app, request).await
}

async fn query_call(app: &axum::Router, path: &str, form: &str) -> Reply {
    let request = Request::post(path)
        .header("host", "example.test:9")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(form.to_owned()))
        .unwrap_or_else(|e| panic!("{e}"));
    send(app, request).await
}

#[tokio::test]
async fn json_protocol_round_trip_with_digests() {
    let h = harness().await;
    let created = json_call(&h.app, "CreateQueue", json!({"QueueName": "jobs"})).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let url = created.json()["QueueUrl"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(url, "http://example.test:9/000000000000/jobs");
    let attributes = json!({"n": {"DataType": "Number", "StringValue": "42"}});
    let sent = json_call(
        &h.app,
        "SendMessage",
        json!({"QueueUrl": url, "MessageBody": "hello", "MessageAttributes": attributes}),
    )
    .await
    .json();
    assert_eq!(sent["MD5OfMessageBody"], "5d41402abc4b2a76b9719d911017c592");
    let got = json_call(
        &h.app,
        "ReceiveMessage",
        json!({"QueueUrl": url, "MessageAttributeNames": ["All"], "AttributeNames": ["All"]}),
    )
    .await
    .json();
    let message = &got["Messages"][0];
    assert_eq!(message["Body"], "hello");
    assert_eq!(message["MessageAttributes"], attributes);
    assert_eq!(
        message["MD5OfMessageAttributes"],
        sent["MD5OfMessageAttributes"]
    );
    assert_eq!(message["Attributes"]["ApproximateReceiveCount"], "1");
    let arn = json_call(
        &h.app,
        "GetQueueAttributes",
        json!({"QueueUrl": url, "AttributeNames": ["QueueArn"]}),
    )
    .await
    .json();
    assert_eq!(
        arn["Attributes"]["QueueArn"],
        "arn:aws:sqs:eu-west-3:000000000000:jobs"
    );
    let deleted = json_call(
        &h.app,
        "DeleteMessage",
        json!({"QueueUrl": url, "ReceiptHandle": message["ReceiptHandle"]}),
    )
    .await;
    assert_eq!(
        (deleted.status, deleted.body.as_str()),
        (StatusCode::OK, "{}")
    );
    h.broker.shutdown().await;
}

#[tokio::test]
async fn json_errors_carry_type_and_legacy_code() {
    let h = harness().await;
    let missing = json_call(&h.app, "GetQueueUrl", json!({"QueueName": "nope"})).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        missing.json()["__type"],
        "com.amazonaws.sqs#QueueDoesNotExist"
    );
    assert_eq!(
        missing.query_error.as_deref(),
        Some("AWS.SimpleQueueService.NonExistentQueue;Sender")
    );
    let unknown = json_call(&h.app, "Frobnicate", json!({})).await;
    assert_eq!(
        unknown.json()["__type"],
        "com.amazon.coral.service#UnknownOperationException"
    );
    let no_param = json_call(&h.app, "SendMessage", json!({"QueueUrl": "x"})).await;
    assert_eq!(
        no_param.json()["__type"],
        "com.amazonaws.sqs#MissingParameter"
    );
    let permission = json_call(&h.app, "AddPermission", json!({})).await;
    assert_eq!(
        permission.json()["__type"],
        "com.amazonaws.sqs#UnsupportedOperation"
    );
    let malformed = Request::post("/")
        .header("x-amz-target", "AmazonSQS.ListQueues")
        .body(Body::from("{not json"))
        .unwrap_or_else(|e| panic!("{e}"));
    let malformed = send(&h.app, malformed).await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert!(malformed.body.contains("SerializationException"));
    h.broker.shutdown().await;
}

#[tokio::test]
async fn a_refused_create_or_attribute_change_leaves_nothing_behind() {
    let h = harness().await;
    let policy = "x".repeat(30_000);
    for input in [
        json!({"QueueName": "q1", "Tags": {"": "x"}}),
        json!({"QueueName": "q1", "Attributes": {"Policy": policy}}),
    ] {
        let refused = json_call(&h.app, "CreateQueue", input).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
        assert!(
            h.broker.queue_config("q1").await.is_err(),
            "a refused CreateQueue created the queue"
        );
    }
    let created = json_call(&h.app, "CreateQueue", json!({"QueueName": "q2"})).await;
    let url = created.json()["QueueUrl"].clone();
    let refused = json_call(
        &h.app,
        "SetQueueAttributes",
        json!({"QueueUrl": url, "Attributes": {"VisibilityTimeout": "999", "Policy": policy}}),
    )
    .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    let config = h
        .broker
        .queue_config("q2")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        config.visibility_timeout_ms, 30_000,
        "a refused change applied"
    );
    h.broker.shutdown().await;
}

#[tokio::test]
async fn query_protocol_answers_xml() {
    let h = harness().await;
    let created = query_call(
        &h.app,
        "/",
        "Action=CreateQueue&QueueName=q1&Version=2012-11-05",
    )
    .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    assert!(created.body.contains(
        "<CreateQueueResult><QueueUrl>http://example.test:9/000000000000/q1</QueueUrl></CreateQueueResult>"
    ));
    let sent = query_call(
        &h.app,
        "/000000000000/q1",
        "Action=SendMessage&MessageBody=hi%20there",
    )
    .await;
    assert!(sent.body.contains("<MD5OfMessageBody>"), "{}", sent.body);
    let missing = query_call(&h.app, "/", "Action=GetQueueUrl&QueueName=none").await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert!(
        missing
            .body
            .contains("<Code>AWS.SimpleQueueService.NonExistentQueue</Code>")
    );
    let bogus = query_call(&h.app, "/", "Action=Bogus").await;
    assert!(bogus.body.contains("<Code>InvalidAction</Code>"));
    let empty = query_call(&h.app, "/", "QueueName=x").await;
    assert!(empty.body.contains("<Code>MissingAction</Code>"));
    h.broker.shutdown().await;
}

#[tokio::test]
async fn requests_that_are_not_sqs_get_the_native_404() {
    let h = harness().await;
    let request = Request::post("/a/b")
        .body(Body::from("{}"))
        .unwrap_or_else(|e| panic!("{e}"));
    let reply = send(&h.app, request).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.json()["error"]["code"], "not_found");
    h.broker.shutdown().await;
}

#[test]
fn the_sqs_endpoint_is_not_part_of_the_native_api_document() {
    // The OpenAPI test compares the native route table with the document; the SQS routes are
    // merged beside that table on purpose, and must stay out of the document too.
    let doc = crate::openapi_document();
    let paths = doc["paths"].as_object().cloned().unwrap_or_default();
    assert!(!paths.is_empty());
    assert!(
        paths
            .keys()
            .all(|p| p.starts_with("/v1/") || p.starts_with("/health/") || p == "/metrics"),
        "{:?}",
        paths.keys()
    );
    assert!(!paths.contains_key("/{account}/{queue}"));
}

#[tokio::test]
async fn sdk_habits_that_real_sqs_accepts_or_refuses() {
    let h = harness().await;
    // A dead-letter queue, and a queue created twice with the same policy written differently.
    json_call(&h.app, "CreateQueue", json!({"QueueName": "dlq"})).await;
    let arn = "arn:aws:sqs:eu-west-3:000000000000:dlq";
    let create = |policy: String| json!({"QueueName": "src", "Attributes": {"RedrivePolicy": policy, "VisibilityTimeout": "30"}});
    let first = json_call(
        &h.app,
        "CreateQueue",
        create(format!(
            r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":5}}"#
        )),
    )
    .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let again = json_call(
        &h.app,
        "CreateQueue",
        create(format!(
            r#"{{"deadLetterTargetArn": "{arn}", "maxReceiveCount": "5"}}"#
        )),
    )
    .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.json()["QueueUrl"], first.json()["QueueUrl"]);
    let different = json_call(
        &h.app,
        "CreateQueue",
        json!({"QueueName": "src", "Attributes": {"VisibilityTimeout": "31"}}),
    )
    .await;
    assert_eq!(
        different.json()["__type"],
        "com.amazonaws.sqs#QueueNameExists"
    );

    // A standard queue: a group id gets no SequenceNumber, and an attempt id is not honoured.
    let url = json_call(&h.app, "CreateQueue", json!({"QueueName": "std"}))
        .await
        .json()["QueueUrl"]
        .clone();
    for body in ["one", "two"] {
        let sent = json_call(
            &h.app,
            "SendMessage",
            json!({"QueueUrl": url, "MessageBody": body, "MessageGroupId": "g"}),
        )
        .await;
        assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
    }
    let receive =
        json!({"QueueUrl": url, "AttributeNames": ["All"], "ReceiveRequestAttemptId": "a1"});
    let got = json_call(&h.app, "ReceiveMessage", receive.clone())
        .await
        .json();
    let message = &got["Messages"][0];
    assert_eq!(message["Attributes"]["MessageGroupId"], "g");
    assert!(
        message["Attributes"].get("SequenceNumber").is_none(),
        "{got}"
    );
    let next = json_call(&h.app, "ReceiveMessage", receive).await.json();
    assert_ne!(
        next["Messages"][0]["MessageId"], message["MessageId"],
        "{next}"
    );

    // A batch's limit counts attributes too.
    let big_attribute = json!({"a": {"DataType": "String", "StringValue": "x".repeat(500_000)}});
    let batch = json!({"QueueUrl": url, "Entries": [
        {"Id": "1", "MessageBody": "y".repeat(600_000)},
        {"Id": "2", "MessageBody": "z", "MessageAttributes": big_attribute},
    ]});
    let too_long = json_call(&h.app, "SendMessageBatch", batch).await;
    assert_eq!(
        too_long.json()["__type"],
        "com.amazonaws.sqs#BatchRequestTooLong",
        "{}",
        too_long.body
    );
    h.broker.shutdown().await;
}
