use super::openapi_document;
use crate::router::routes;
use ferry_api::{
    AppendHeader, AppendRecord, AppendRequest, CommitOffset, CommitRequest, CompletionEntry,
    GapPolicy, JoinRequest, OffsetReset, Output, PollRequest, PublishEntry, QueueConfig,
    QueueStats, ReadRecord, RecordHeader, ResequenceConfig, ResequenceStats, SkipGapsRequest,
    StreamConfig, Timestamp, TransactionRequest, TransactionResponse,
};
use serde_json::Value;
use std::collections::BTreeSet;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "patch", "head", "options", "trace",
];

fn documented_routes(doc: &Value) -> BTreeSet<(String, String)> {
    let mut pairs = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in item.as_object().into_iter().flat_map(|m| m.keys()) {
            assert!(
                METHODS.contains(&method.as_str()),
                "{path}: {method} is not an HTTP method"
            );
            pairs.insert((method.to_uppercase(), path.clone()));
        }
    }
    pairs
}

#[test]
fn documented_routes_are_exactly_the_served_routes() {
    let served: BTreeSet<(String, String)> = routes()
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_owned()))
        .collect();
    let documented = documented_routes(&openapi_document());
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty() && unserved.is_empty(),
        "served but not documented: {undocumented:?}; documented but not served: {unserved:?}"
    );
}

#[test]
fn every_path_parameter_is_declared() {
    let doc = openapi_document();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        let in_path: BTreeSet<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        for (method, op) in item.as_object().into_iter().flatten() {
            let declared: BTreeSet<String> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["$ref"].as_str())
                .filter_map(|r| r.strip_prefix("#/components/parameters/"))
                .filter(|name| doc["components"]["parameters"][*name]["in"] == "path")
                .map(str::to_owned)
                .collect();
            let expected: BTreeSet<String> = in_path.iter().map(|s| (*s).to_owned()).collect();
            assert_eq!(declared, expected, "{method} {path}");
        }
    }
}

#[test]
fn every_reference_resolves() {
    fn walk(doc: &Value, node: &Value, seen: &mut usize) {
        match node {
            Value::Object(map) => {
                if let Some(Value::String(target)) = map.get("$ref") {
                    let pointer = target.strip_prefix('#').unwrap_or("!");
                    assert!(doc.pointer(pointer).is_some(), "dangling $ref {target}");
                    *seen += 1;
                }
                map.values().for_each(|v| walk(doc, v, seen));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(doc, v, seen)),
            _ => {}
        }
    }
    let doc = openapi_document();
    let mut seen = 0;
    walk(&doc, &doc, &mut seen);
    assert!(seen > 50, "only {seen} references");
    assert_eq!(doc["openapi"], "3.1.0");
}

fn schema_keys(name: &str) -> BTreeSet<String> {
    openapi_document()["components"]["schemas"][name]["properties"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k.clone())
        .collect()
}

fn serialized_keys<T: serde::Serialize>(value: &T) -> BTreeSet<String> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => map.keys().cloned().collect(),
        _ => BTreeSet::new(),
    }
}

#[test]
fn config_and_stats_schemas_match_the_types() {
    assert_eq!(
        schema_keys("QueueConfig"),
        serialized_keys(&QueueConfig::default())
    );
    let stats = QueueStats {
        resequence: Some(ResequenceStats::default()),
        ..QueueStats::default()
    };
    assert_eq!(schema_keys("QueueStats"), serialized_keys(&stats));
    assert_eq!(
        schema_keys("ResequenceStats"),
        serialized_keys(&ResequenceStats::default())
    );
    let resequence = ResequenceConfig {
        output: Output::Stream("s".into()),
        gap_policy: GapPolicy::Block,
        gap_markers: true,
    };
    assert_eq!(
        schema_keys("ResequenceConfig"),
        serialized_keys(&resequence)
    );
    let completion = CompletionEntry {
        body_base64: Some(String::new()),
        attributes: [("a".to_owned(), "b".to_owned())].into(),
        ..CompletionEntry::text("r", "b")
    };
    assert_eq!(schema_keys("CompletionEntry"), serialized_keys(&completion));
    let publish = PublishEntry {
        queue: Some("q".into()),
        messages: Some(Vec::new()),
        stream: Some("s".into()),
        records: Some(Vec::new()),
    };
    assert_eq!(schema_keys("PublishEntry"), serialized_keys(&publish));
    assert_eq!(
        schema_keys("TransactionRequest"),
        serialized_keys(&TransactionRequest::default())
    );
    assert_eq!(
        schema_keys("TransactionResponse"),
        serialized_keys(&TransactionResponse::default())
    );
    assert_eq!(
        schema_keys("SkipGapsRequest"),
        serialized_keys(&SkipGapsRequest {
            key: Some("k".into())
        })
    );
    let doc = openapi_document();
    assert_eq!(
        doc["components"]["schemas"]["QueueConfig"]["properties"]["visibility_timeout_ms"]["default"],
        30_000
    );
}

#[test]
fn stream_schemas_match_the_types() {
    assert_eq!(
        schema_keys("StreamConfig"),
        serialized_keys(&StreamConfig::default())
    );
    let doc = openapi_document();
    assert_eq!(
        doc["components"]["schemas"]["StreamConfig"]["properties"]["max_record_bytes"]["default"],
        1_048_576
    );
    let record = AppendRecord {
        key: Some("k".into()),
        key_base64: Some("aw==".into()),
        value: Some("v".into()),
        value_base64: Some("dg==".into()),
        headers: vec![AppendHeader::text("h", "v")],
        timestamp: Some(Timestamp(0)),
        partition: Some(0),
    };
    assert_eq!(schema_keys("AppendRecord"), serialized_keys(&record));
    assert_eq!(
        schema_keys("AppendHeader"),
        serialized_keys(&AppendHeader {
            value_base64: Some(String::new()),
            ..AppendHeader::text("h", "v")
        })
    );
    let append = AppendRequest {
        records: vec![record],
        expected_offset: Some(0),
    };
    assert_eq!(schema_keys("AppendRequest"), serialized_keys(&append));
    let read = ReadRecord {
        partition: Some(0),
        key: Some(String::new()),
        key_base64: Some(String::new()),
        value: Some(String::new()),
        value_base64: Some(String::new()),
        ..ReadRecord::default()
    };
    assert_eq!(schema_keys("ReadRecord"), serialized_keys(&read));
    assert_eq!(
        schema_keys("RecordHeader"),
        serialized_keys(&RecordHeader {
            name: "h".into(),
            value: Some(String::new()),
            value_base64: Some(String::new()),
        })
    );
}

#[test]
fn group_request_schemas_match_the_types() {
    let join = JoinRequest {
        member_id: Some("m".into()),
        session_timeout_ms: Some(1_000),
        auto_offset_reset: Some(OffsetReset::Earliest),
    };
    assert_eq!(schema_keys("JoinRequest"), serialized_keys(&join));
    let poll = PollRequest {
        max_records: Some(1),
        max_bytes: Some(1),
        wait_ms: Some(1),
        ..PollRequest::default()
    };
    assert_eq!(schema_keys("PollRequest"), serialized_keys(&poll));
    let commit = CommitRequest {
        member_id: Some("m".into()),
        generation: Some(1),
        offsets: vec![],
    };
    assert_eq!(schema_keys("CommitRequest"), serialized_keys(&commit));
    let offset = CommitOffset {
        metadata: Some(String::new()),
        ..CommitOffset::default()
    };
    assert_eq!(schema_keys("CommitOffset"), serialized_keys(&offset));
}
