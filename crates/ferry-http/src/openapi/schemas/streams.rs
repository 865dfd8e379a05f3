//! The schemas of the stream and consumer-group wire types (`ferry_api::streams`,
//! `ferry_api::groups`).

use super::{array_of, closed, int, ms, obj, schema_ref, time};
use ferry_api::StreamConfig;
use serde_json::{Map, Value, json};

/// Every stream schema, by name.
pub(super) fn all() -> Map<String, Value> {
    let schemas = json!({
        "StreamConfig": stream_config(),
        "StreamEntry": obj(&["name", "config"], json!({"name": {"type": "string"}, "config": schema_ref("StreamConfig")})),
        "StreamList": obj(&["streams"], json!({"streams": array_of("StreamEntry")})),
        "StreamDetails": obj(&["name", "config", "created_at", "updated_at", "partitions", "groups"], json!({
            "name": {"type": "string"},
            "config": schema_ref("StreamConfig"),
            "created_at": time(),
            "updated_at": time(),
            "partitions": array_of("PartitionInfo"),
            "groups": {"type": "array", "items": {"type": "string"}, "description": "Consumer groups with members or committed offsets."},
        })),
        "PartitionInfo": obj(&["partition", "start_offset", "end_offset", "bytes", "segments"], json!({
            "partition": int("The partition number."),
            "start_offset": int("The first offset still stored."),
            "end_offset": int("The offset the next record gets: one past the last durable record."),
            "bytes": int("Bytes of the partition's log on disk."),
            "segments": int("Segment files."),
        })),
        "CompactResponse": obj(&["segments_rewritten", "records_removed"], json!({
            "segments_rewritten": int("Segments written anew."),
            "records_removed": int("Records dropped (superseded, or expired tombstones)."),
        })),
        "AppendRequest": closed(&["records"], json!({
            "records": {"type": "array", "minItems": 1, "items": schema_ref("AppendRecord")},
            "expected_offset": int("Optimistic concurrency: the offset the first record must get; every record must go to one partition."),
        })),
        "AppendRecord": append_record(),
        "AppendHeader": with_data_pair(closed(&["name"], json!({
            "name": {"type": "string"},
            "value": {"type": "string", "description": "UTF-8 value."},
            "value_base64": {"type": "string", "contentEncoding": "base64", "description": "Binary value, standard base64. Neither: a null value."},
        })), "value"),
        "AppendResponse": obj(&["records"], json!({"records": array_of("AppendedRecord")})),
        "AppendedRecord": obj(&["partition", "offset"], json!({"partition": int("Its partition."), "offset": int("Its offset there.")})),
        "ReadResponse": obj(&["records", "next_offset", "start_offset", "end_offset"], json!({
            "records": array_of("ReadRecord"),
            "next_offset": int("Where the next read should start."),
            "start_offset": int("The partition's first stored offset."),
            "end_offset": int("The partition's end."),
            "skipped_to": int("Set when the requested offset no longer exists: the read started here instead."),
        })),
        "ReadRecord": read_record(),
        "RecordHeader": obj(&["name"], json!({
            "name": {"type": "string"},
            "value": {"type": "string"},
            "value_base64": {"type": "string", "contentEncoding": "base64"},
        })),
        "OffsetForTime": obj(&["partition", "offset"], json!({
            "partition": int("The partition."),
            "offset": {"type": ["integer", "null"], "minimum": 0, "description": "Its first record at or after the timestamp; null if none."},
        })),
    });
    let mut all = schemas.as_object().cloned().unwrap_or_default();
    all.extend(group_schemas());
    all
}

fn group_schemas() -> Map<String, Value> {
    let member_and_generation = json!({
        "member_id": {"type": "string"},
        "generation": int("The generation the member last saw."),
    });
    let membership = json!({
        "generation": int("The group's generation now."),
        "assignment": partitions(),
        "rebalanced": {"type": "boolean", "description": "Whether the group rebalanced since the generation given: drop uncommitted work on partitions no longer owned."},
    });
    let schemas = json!({
        "GroupList": obj(&["groups"], json!({"groups": array_of("GroupSummary")})),
        "GroupSummary": obj(&["name", "generation", "members"], json!({
            "name": {"type": "string"}, "generation": int("Goes up with every rebalance."), "members": int("Members now."),
        })),
        "GroupDetails": obj(&["name", "generation", "members", "partitions"], json!({
            "name": {"type": "string"},
            "generation": int("Goes up with every rebalance."),
            "members": array_of("GroupMember"),
            "partitions": array_of("GroupPartition"),
        })),
        "GroupMember": obj(&["member_id", "assignment", "last_seen_at"], json!({
            "member_id": {"type": "string"}, "assignment": partitions(), "last_seen_at": time(),
        })),
        "GroupPartition": obj(&["partition", "end_offset", "lag_records", "lag_ms"], json!({
            "partition": int("The partition."),
            "committed_offset": int("The next offset the group reads, if it committed one."),
            "metadata": {"type": "string", "description": "Stored with the commit."},
            "end_offset": int("The partition's end."),
            "lag_records": int("Records between the committed offset (or the start) and the end."),
            "lag_ms": ms("Age of the oldest record not yet committed (0 when caught up)."),
        })),
        "JoinRequest": closed(&[], json!({
            "member_id": {"type": "string", "description": "Rejoin as this member; a new id is made when absent."},
            "session_timeout_ms": {"type": "integer", "minimum": 1000, "maximum": 600_000, "default": 10_000, "description": "How long the member may go without a poll or heartbeat. Milliseconds."},
            "auto_offset_reset": {"type": "string", "enum": ["earliest", "latest"], "default": "latest", "description": "Where to start in partitions the group never committed."},
        })),
        "JoinResponse": obj(&["member_id", "generation", "assignment"], json!({
            "member_id": {"type": "string", "description": "Give it on every later call."},
            "generation": int("The generation joined in."),
            "assignment": partitions(),
        })),
        "PollRequest": closed(&["member_id", "generation"], merged(&member_and_generation, &json!({
            "max_records": {"type": "integer", "minimum": 1, "maximum": 10_000, "default": 1000},
            "max_bytes": {"type": "integer", "minimum": 1, "maximum": 67_108_864, "default": 1_048_576},
            "wait_ms": ms("Long poll: how long to wait when none of the member's partitions has records (default 0)."),
        }))),
        "PollResponse": obj(&["generation", "assignment", "rebalanced", "records"], merged(&membership, &json!({
            "records": {"type": "array", "items": schema_ref("ReadRecord"), "description": "Each with its partition; in offset order within a partition."},
        }))),
        "HeartbeatRequest": closed(&["member_id", "generation"], member_and_generation.clone()),
        "HeartbeatResponse": obj(&["generation", "assignment", "rebalanced"], membership),
        "CommitRequest": closed(&["offsets"], merged(&member_and_generation, &json!({
            "offsets": {"type": "array", "minItems": 1, "items": schema_ref("CommitOffset")},
        }))),
        "CommitOffset": closed(&["partition", "offset"], json!({
            "partition": int("The partition."),
            "offset": int("The next offset to read: one past the last record processed."),
            "metadata": {"type": "string", "maxLength": 4096, "description": "Kept with the offset."},
        })),
        "CommitResponse": obj(&["committed"], json!({"committed": int("Offsets committed.")})),
        "LeaveRequest": closed(&["member_id"], json!({"member_id": {"type": "string"}})),
        "ResetRequest": reset_request(),
        "ResetOffset": closed(&["partition", "offset"], json!({"partition": int("The partition."), "offset": int("The next offset the group reads there.")})),
        "ResetResponse": obj(&["offsets"], json!({"offsets": array_of("PartitionOffset")})),
        "PartitionOffset": obj(&["partition", "offset"], json!({"partition": int("The partition."), "offset": int("The committed offset.")})),
    });
    schemas.as_object().cloned().unwrap_or_default()
}

fn stream_config() -> Value {
    let nullable = |description: &str| json!({"type": ["integer", "null"], "minimum": 0, "description": description});
    let mut properties = json!({
        "partitions": {"type": "integer", "minimum": 1, "maximum": 1024, "description": "The unit of ordering and parallelism; can grow, never shrink."},
        "retention_ms": nullable("How long records are kept (with cleanup delete); null keeps them for ever. 1000 ms to 100 years."),
        "retention_bytes": nullable("Most bytes kept per partition (with cleanup delete); null for no limit. At least 1 MiB."),
        "cleanup": {"type": "string", "enum": ["delete", "compact", "compact,delete"], "description": "Delete old segments, keep the latest record per key, or both."},
        "max_record_bytes": {"type": "integer", "minimum": 1024, "maximum": 67_107_840, "description": "Largest record accepted (key, value, headers and framing); larger ones are 413 message_too_large."},
        "delete_retention_ms": ms("How long a tombstone survives compaction."),
        "min_compaction_lag_ms": ms("How old a record must be before compaction may remove it."),
        "segment_bytes": nullable("Size at which a partition's segment rolls (1 MiB to 1 GiB); null for the broker's default."),
    });
    // The defaults come from the type itself, so the document cannot state stale ones.
    if let (Ok(Value::Object(defaults)), Some(props)) = (
        serde_json::to_value(StreamConfig::default()),
        properties.as_object_mut(),
    ) {
        for (key, default) in defaults {
            if let Some(Value::Object(prop)) = props.get_mut(&key) {
                prop.insert("default".to_owned(), default);
            }
        }
    }
    let mut schema = closed(&[], properties);
    if let Some(map) = schema.as_object_mut() {
        map.insert(
            "description".to_owned(),
            json!("A stream's settings; every key is optional and defaults as shown."),
        );
    }
    schema
}

fn append_record() -> Value {
    let schema = closed(
        &[],
        json!({
            "key": {"type": "string", "description": "UTF-8 key: picks the partition (murmur2, as Kafka) and is what compaction keeps the latest record of."},
            "key_base64": {"type": "string", "contentEncoding": "base64", "description": "Binary key, standard base64."},
            "value": {"type": "string", "description": "UTF-8 value."},
            "value_base64": {"type": "string", "contentEncoding": "base64", "description": "Binary value, standard base64. No value at all makes a tombstone."},
            "headers": array_of("AppendHeader"),
            "timestamp": time(),
            "partition": int("The partition (default: from the key's hash, or spread when keyless)."),
        }),
    );
    with_data_pair(with_data_pair(schema, "key"), "value")
}

fn read_record() -> Value {
    obj(
        &["offset", "headers", "timestamp"],
        json!({
            "partition": int("Set where records of several partitions come together (group polls and events)."),
            "offset": int("Its offset."),
            "key": {"type": "string"},
            "key_base64": {"type": "string", "contentEncoding": "base64"},
            "value": {"type": "string", "description": "Text when valid UTF-8 (with encoding=auto)."},
            "value_base64": {"type": "string", "contentEncoding": "base64", "description": "Otherwise base64; neither for a tombstone."},
            "headers": array_of("RecordHeader"),
            "timestamp": time(),
        }),
    )
}

fn reset_request() -> Value {
    let mut schema = closed(
        &[],
        json!({
            "to": {"type": "string", "enum": ["earliest", "latest"], "description": "Every partition to its first stored offset or its end."},
            "timestamp": time(),
            "offsets": {"type": "array", "minItems": 1, "items": schema_ref("ResetOffset"), "description": "These partitions to these offsets; others stay."},
        }),
    );
    if let Some(map) = schema.as_object_mut() {
        map.insert(
            "oneOf".to_owned(),
            json!([{"required": ["to"]}, {"required": ["timestamp"]}, {"required": ["offsets"]}]),
        );
        map.insert(
            "description".to_owned(),
            json!("Exactly one of to, timestamp (every partition to its first record at or after it, or its end) or offsets."),
        );
    }
    schema
}

/// `field` and `field_base64` exclude each other.
fn with_data_pair(mut schema: Value, field: &str) -> Value {
    if let Some(map) = schema.as_object_mut() {
        let rule = json!({"not": {"required": [field, format!("{field}_base64")]}});
        match map.get_mut("allOf").and_then(Value::as_array_mut) {
            Some(rules) => rules.push(rule),
            None => {
                map.insert("allOf".to_owned(), json!([rule]));
            }
        }
    }
    schema
}

fn partitions() -> Value {
    json!({"type": "array", "items": {"type": "integer", "minimum": 0}, "description": "Partition numbers."})
}

fn merged(a: &Value, b: &Value) -> Value {
    let mut out = a.as_object().cloned().unwrap_or_default();
    out.extend(b.as_object().cloned().unwrap_or_default());
    Value::Object(out)
}
