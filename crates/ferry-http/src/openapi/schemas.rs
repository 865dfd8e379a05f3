//! The schemas of `/v1/openapi.json`, one per wire type of `ferry-api` (the stream ones in
//! `schemas/streams.rs`).

mod streams;

use ferry_api::QueueConfig;
use serde_json::{Value, json};

/// Every schema, by name.
pub(super) fn all() -> Value {
    let mut all = json!({
        "Error": obj(&["error"], json!({"error": schema_ref("ErrorDetail")})),
        "ErrorDetail": obj(&["code", "message"], json!({
            "code": {"type": "string", "description": "Stable snake_case code, e.g. queue_not_found, invalid_request, stale_receipt, request_too_large."},
            "message": {"type": "string", "description": "Lowercase explanation naming the object involved."},
            "next_offset": int("With offset_mismatch only: the partition's actual next offset."),
        })),
        "Health": obj(&["status"], json!({"status": {"type": "string", "enum": ["live", "ready", "recovering", "shutting_down"]}})),
        "MetricsHistory": metrics_history(),
        "QueueHistory": queue_history(),
        "StreamHistory": stream_history(),
        "QueueConfig": queue_config(),
        "QueueEntry": obj(&["name", "config"], json!({"name": {"type": "string"}, "config": schema_ref("QueueConfig")})),
        "QueueList": obj(&["queues"], json!({"queues": array_of("QueueEntry")})),
        "QueueStats": queue_stats(),
        "QueueDetails": obj(&["name", "config", "stats", "created_at", "updated_at", "dead_letter_sources"], json!({
            "name": {"type": "string"},
            "config": schema_ref("QueueConfig"),
            "stats": schema_ref("QueueStats"),
            "created_at": time(),
            "updated_at": time(),
            "dead_letter_sources": {"type": "array", "items": {"type": "string"}, "description": "Queues whose dead_letter_queue is this one."},
        })),
        "SendRequest": closed(&["messages"], json!({"messages": {"type": "array", "minItems": 1, "items": schema_ref("SendEntry")}})),
        "SendEntry": send_entry(),
        "SendResponse": obj(&["messages"], json!({"messages": array_of("SentEntry")})),
        "SentEntry": obj(&["id", "seq", "duplicate"], json!({
            "id": {"type": "string"}, "seq": int("Position in the queue."), "duplicate": {"type": "boolean"},
        })),
        "ReceiveRequest": closed(&[], json!({
            "max": {"type": "integer", "minimum": 1, "default": 1},
            "wait_ms": ms("Long poll: how long to wait when no message is visible (default 0)."),
            "visibility_timeout_ms": ms("Lease length (default: the queue's)."),
            "auto_ack": {"type": "boolean", "default": false, "description": "Remove on delivery (at-most-once)."},
            "consumer": {"type": "string", "description": "Shown on the lease by peek."},
            "attempt_id": {"type": "string", "maxLength": 128, "description": "Retry token: repeating a receive with the same attempt id within 5 minutes, while its messages are still leased by it, returns the same messages and receipts (leases extended)."},
        })),
        "ReceiveResponse": obj(&["messages"], json!({"messages": array_of("ReceivedMessage")})),
        "ReceivedMessage": received_message(),
        "DeadLetter": dead_letter(),
        "AckRequest": closed(&["receipts"], json!({"receipts": receipts()})),
        "NackRequest": closed(&["receipts"], json!({
            "receipts": receipts(),
            "delay_ms": ms("Delay before redelivery (default: the queue's backoff)."),
            "reason": {"type": "string", "description": "Kept with the message; shown if it is dead-lettered."},
        })),
        "VisibilityRequest": closed(&["receipts", "visibility_timeout_ms"], json!({
            "receipts": receipts(), "visibility_timeout_ms": ms("New remaining lease, from now."),
        })),
        "BatchResponse": obj(&["ok", "failed"], json!({"ok": int("Receipts that succeeded."), "failed": array_of("FailedReceipt")})),
        "FailedReceipt": obj(&["receipt", "error"], json!({
            "receipt": {"type": "string"},
            "error": schema_ref("ErrorDetail"),
        })),
        "PeekResponse": obj(&["messages"], json!({"messages": array_of("PeekedEntry")})),
        "PeekedEntry": peeked_entry(),
        "Lease": obj(&["consumer", "since", "until"], json!({"consumer": {"type": "string"}, "since": time(), "until": time()})),
        "PurgeResponse": obj(&["purged"], json!({"purged": int("Messages removed.")})),
        "RedriveRequest": closed(&[], json!({
            "max": int("Most messages to move (default: all)."),
            "rate_per_s": {"type": "number", "minimum": 0.01, "description": "Most messages moved per second, at least 0.01 (default: unlimited)."},
        })),
        "RedriveResponse": obj(&["moved"], json!({"moved": int("Messages moved back to their source queues.")})),
    });
    if let Some(map) = all.as_object_mut() {
        map.extend(streams::all());
        map.extend(ordered_processing());
    }
    all
}

fn queue_config() -> Value {
    let mut properties = json!({
        "fifo": {"type": "boolean", "description": "Order by group, one message of a group in flight at a time; needs a .fifo name; cannot change."},
        "visibility_timeout_ms": ms("Lease length before redelivery."),
        "delay_ms": ms("Default delay before a new message is visible."),
        "retention_ms": ms("How long a message without a TTL lives."),
        "max_message_bytes": int("Largest body accepted."),
        "max_receives": nullable_int("Deliveries after which a message is dead-lettered."),
        "dead_letter_queue": {"type": ["string", "null"], "description": "Where messages go after max_receives; must exist."},
        "backoff_initial_ms": ms("First retry delay after a failure; 0 retries at once."),
        "backoff_multiplier": {"type": "number", "minimum": 1, "maximum": 100},
        "backoff_max_ms": ms("Ceiling of the retry delay."),
        "backoff_jitter": {"type": "number", "minimum": 0, "maximum": 1},
        "content_dedup": {"type": "boolean", "description": "Deduplicate by body hash when no dedup_id is given."},
        "dedup_scope": {"type": "string", "enum": ["queue", "group"], "description": "Whether dedup ids are unique per queue or per message group."},
        "dedup_window_ms": ms("How long a dedup id suppresses duplicates."),
        "max_in_flight": nullable_int("Most messages leased at once."),
        "rate_limit_per_s": {"type": ["number", "null"], "description": "Most deliveries per second."},
        "max_length": nullable_int("Most messages stored."),
        "max_bytes": nullable_int("Most body bytes stored."),
        "overflow": {"type": "string", "enum": ["reject", "drop_oldest"]},
        "on_expire": {"type": "string", "enum": ["drop", "dead_letter"]},
        "resequence": {"oneOf": [{"type": "null"}, schema_ref("ResequenceConfig")], "description": "Release completed results to an output in arrival order per order key (message group). Can only be turned on or off while the queue is empty."},
    });
    // The defaults come from the type itself, so the document cannot state stale ones.
    if let (Ok(Value::Object(defaults)), Some(props)) = (
        serde_json::to_value(QueueConfig::default()),
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
            json!("A queue's settings; every key is optional and defaults as shown."),
        );
    }
    schema
}

fn queue_stats() -> Value {
    let keys = [
        ("visible", "Messages that can be received now."),
        (
            "delayed",
            "Messages waiting for a delay or a retry backoff.",
        ),
        ("in_flight", "Messages leased to consumers."),
        (
            "dead_lettered",
            "Messages moved to the dead-letter queue, in all.",
        ),
        (
            "oldest_age_ms",
            "Age of the oldest message stored, 0 if none.",
        ),
        ("bytes", "Body bytes stored."),
        ("enqueued_total", "Messages accepted, in all."),
        ("delivered_total", "Deliveries, in all."),
        ("acked_total", "Acks, in all."),
        ("nacked_total", "Nacks, in all."),
        ("expired_total", "Messages expired, in all."),
        (
            "deduplicated_total",
            "Publishes dropped as duplicates, in all.",
        ),
        (
            "removed_total",
            "Messages removed by overflow, purge or cancel, in all.",
        ),
    ];
    let properties: serde_json::Map<String, Value> = keys
        .iter()
        .map(|(k, d)| ((*k).to_owned(), int(d)))
        .collect();
    let mut properties = properties;
    properties.insert(
        "resequence".to_owned(),
        json!({"$ref": "#/components/schemas/ResequenceStats", "description": "Resequencing queues, and queues whose transactions' messages and records are still on their way to their targets."}),
    );
    let required: Vec<&str> = keys.iter().map(|(k, _)| *k).collect();
    obj(&required, Value::Object(properties))
}

fn send_entry() -> Value {
    let mut schema = closed(
        &[],
        json!({
            "body": {"type": "string", "description": "UTF-8 text body."},
            "body_base64": {"type": "string", "contentEncoding": "base64", "description": "Binary body, standard base64."},
            "attributes": attributes(),
            "delay_ms": ms("Delay before visible (overrides the queue's delay_ms)."),
            "deliver_at": time(),
            "dedup_id": {"type": "string"},
            "group": {"type": "string", "description": "FIFO group (ordering key)."},
            "priority": {"type": "integer", "minimum": 0, "maximum": 9, "default": 0},
            "ttl_ms": ms("Time to live (overrides the queue's retention_ms)."),
        }),
    );
    one_body(&mut schema);
    schema
}

/// The schemas of resequencing queues and transactions.
fn ordered_processing() -> serde_json::Map<String, Value> {
    let schemas = json!({
        "ResequenceConfig": closed(&["output"], json!({
            "output": {"type": "object", "description": "Where results go: {\"stream\": name} (keyed by the order key) or {\"queue\": name} (grouped by it); must exist.",
                "oneOf": [closed(&["stream"], json!({"stream": {"type": "string"}})), closed(&["queue"], json!({"queue": {"type": "string"}}))]},
            "gap_policy": {"type": "string", "enum": ["skip", "block"], "default": "skip", "description": "What a message that will never complete (dead-lettered, expired, cancelled, acked without result) does to its key: skip it, or block the key until gaps/skip."},
            "gap_markers": {"type": "boolean", "default": false, "description": "Release a marker (attribute or header ferry-gap) where a gap was skipped."},
        })),
        "ResequenceStats": obj(&["held_back", "held_back_bytes", "releasing", "blocked_gaps", "oldest_gap_age_ms", "completed_total", "released_total", "gaps_total"], json!({
            "held_back": int("Results completed but held behind earlier messages of their key."),
            "held_back_bytes": int("Their body bytes."),
            "releasing": int("Results released in order, not yet stored by the output."),
            "blocked_gaps": int("Gaps holding their key (gap_policy block)."),
            "oldest_gap_age_ms": int("How long the oldest held-back result or blocked gap has waited."),
            "completed_total": int("Messages completed, in all."),
            "released_total": int("Results (and markers) stored by the output, in all."),
            "gaps_total": int("Gaps skipped, in all."),
        })),
        "CompleteRequest": closed(&["completions"], json!({"completions": {"type": "array", "minItems": 1, "items": schema_ref("CompletionEntry")}})),
        "CompletionEntry": completion_entry(),
        "SkipGapsRequest": closed(&[], json!({"key": {"type": "string", "description": "The order key (message group); every key if absent."}})),
        "SkipGapsResponse": obj(&["skipped"], json!({"skipped": int("Blocked gaps skipped.")})),
        "TransactionRequest": closed(&["ack"], json!({
            "ack": {"type": "array", "minItems": 1, "items": schema_ref("TransactionAck"), "description": "Leases to ack, all of one queue. One refused receipt refuses the whole transaction."},
            "publish": {"type": "array", "items": schema_ref("PublishEntry"), "description": "What to publish, per target."},
        })),
        "TransactionAck": closed(&["queue", "receipt"], json!({"queue": {"type": "string"}, "receipt": {"type": "string"}})),
        "PublishEntry": {
            "type": "object",
            "additionalProperties": false,
            "description": "queue with messages, or stream with records.",
            "properties": {
                "queue": {"type": "string"},
                "messages": {"type": "array", "minItems": 1, "items": schema_ref("SendEntry")},
                "stream": {"type": "string"},
                "records": {"type": "array", "minItems": 1, "items": schema_ref("AppendRecord"), "description": "A keyless record without a partition goes to partition 0."},
            },
            "oneOf": [{"required": ["queue", "messages"]}, {"required": ["stream", "records"]}],
        },
        "TransactionResponse": obj(&["acked", "published"], json!({
            "acked": int("Messages acked."),
            "published": int("Messages and records published; their targets store them right after the reply."),
        })),
    });
    match schemas {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

fn completion_entry() -> Value {
    let mut schema = closed(
        &["receipt"],
        json!({
            "receipt": {"type": "string", "description": "The receipt of any delivery of the message: the first completion wins, later ones fail with already_completed."},
            "body": {"type": "string", "description": "The result as UTF-8 text."},
            "body_base64": {"type": "string", "contentEncoding": "base64", "description": "The result as binary, standard base64."},
            "attributes": attributes(),
        }),
    );
    one_body(&mut schema);
    schema
}

fn received_message() -> Value {
    let mut schema = obj(
        &[
            "id",
            "seq",
            "attributes",
            "receipt",
            "receive_count",
            "enqueued_at",
            "first_received_at",
            "priority",
        ],
        json!({
            "id": {"type": "string"},
            "seq": int("Position in the queue."),
            "body": {"type": "string"},
            "body_base64": {"type": "string", "contentEncoding": "base64"},
            "attributes": attributes(),
            "receipt": {"type": "string", "description": "Opaque; acks, nacks or extends this lease (empty when auto-acked)."},
            "receive_count": int("Deliveries so far, this one included."),
            "enqueued_at": time(),
            "first_received_at": time(),
            "group": {"type": "string"},
            "dedup_id": {"type": "string"},
            "priority": {"type": "integer", "minimum": 0, "maximum": 9},
            "dead_letter": schema_ref("DeadLetter"),
        }),
    );
    one_body(&mut schema);
    schema
}

fn peeked_entry() -> Value {
    let mut schema = obj(
        &[
            "id",
            "seq",
            "state",
            "attributes",
            "receive_count",
            "enqueued_at",
            "visible_at",
            "expires_at",
            "priority",
        ],
        json!({
            "id": {"type": "string"},
            "seq": int("Position in the queue."),
            "state": {"type": "string", "enum": ["visible", "delayed", "in_flight", "dead_lettering"]},
            "body": {"type": "string"},
            "body_base64": {"type": "string", "contentEncoding": "base64"},
            "attributes": attributes(),
            "receive_count": int("Deliveries so far."),
            "enqueued_at": time(),
            "visible_at": time(),
            "expires_at": time(),
            "group": {"type": "string"},
            "priority": {"type": "integer", "minimum": 0, "maximum": 9},
            "lease": schema_ref("Lease"),
            "dead_letter": schema_ref("DeadLetter"),
        }),
    );
    one_body(&mut schema);
    schema
}

fn dead_letter() -> Value {
    obj(
        &[
            "source_queue",
            "original_id",
            "original_enqueued_at",
            "receive_count",
            "cause",
            "reasons",
        ],
        json!({
            "source_queue": {"type": "string"},
            "original_id": {"type": "string"},
            "original_enqueued_at": time(),
            "receive_count": int("Deliveries in the source queue."),
            "cause": {"type": "string", "enum": ["max_receives", "expired", "overflow"]},
            "first_failure_at": time(),
            "last_failure_at": time(),
            "reasons": {"type": "array", "items": {"type": "string"}},
        }),
    )
}

fn one_body(schema: &mut Value) {
    if let Some(map) = schema.as_object_mut() {
        map.insert(
            "oneOf".to_owned(),
            json!([{"required": ["body"]}, {"required": ["body_base64"]}]),
        );
    }
}

/// A reply object (unknown properties allowed, so the server may add some).
fn obj(required: &[&str], properties: Value) -> Value {
    json!({"type": "object", "required": required, "properties": properties})
}

/// A request object: unknown properties are refused with 400.
fn closed(required: &[&str], properties: Value) -> Value {
    json!({"type": "object", "required": required, "properties": properties, "additionalProperties": false})
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn array_of(name: &str) -> Value {
    json!({"type": "array", "items": schema_ref(name)})
}

fn int(description: &str) -> Value {
    json!({"type": "integer", "minimum": 0, "description": description})
}

fn nullable_int(description: &str) -> Value {
    json!({"type": ["integer", "null"], "minimum": 0, "description": description})
}

fn ms(description: &str) -> Value {
    json!({"type": "integer", "minimum": 0, "description": format!("{description} Milliseconds.")})
}

fn time() -> Value {
    json!({"type": "string", "format": "date-time", "description": "RFC 3339, UTC, milliseconds."})
}

fn attributes() -> Value {
    json!({"type": "object", "additionalProperties": {"type": "string"}})
}

fn receipts() -> Value {
    json!({"type": "array", "minItems": 1, "items": {"type": "string"}})
}

fn metrics_history() -> Value {
    obj(
        &["interval_ms", "capacity", "times", "queues", "streams"],
        json!({
            "interval_ms": ms("Time between samples."),
            "capacity": int("Most samples kept."),
            "times": {"type": "array", "items": time(), "description": "Sample instants, oldest first; index i of every series goes with times[i]."},
            "queues": array_of("QueueHistory"),
            "streams": array_of("StreamHistory"),
        }),
    )
}

fn stream_history() -> Value {
    let series = |description: &str| json!({"type": "array", "items": {"type": ["number", "null"]}, "description": description});
    obj(
        &[
            "name",
            "end_offsets",
            "bytes",
            "appended_per_s",
            "lag_records",
        ],
        json!({
            "name": {"type": "string"},
            "end_offsets": series("Sum of the partitions' end offsets (records ever appended); null where the stream did not exist."),
            "bytes": series("Bytes the partitions take on disk."),
            "appended_per_s": series("Records appended per second over the interval before the sample (null for the first)."),
            "lag_records": series("Records behind the partitions' ends, summed over every consumer group and partition."),
        }),
    )
}

fn queue_history() -> Value {
    let series = |description: &str| json!({"type": "array", "items": {"type": ["number", "null"]}, "description": description});
    obj(
        &[
            "name",
            "visible",
            "delayed",
            "in_flight",
            "oldest_age_ms",
            "enqueued_per_s",
            "delivered_per_s",
            "acked_per_s",
            "dead_lettered_per_s",
            "first_delivery_p50_ms",
            "first_delivery_p99_ms",
            "ack_p50_ms",
            "ack_p99_ms",
        ],
        json!({
            "name": {"type": "string"},
            "visible": series("Receivable messages; null where the queue did not exist."),
            "delayed": series("Delayed messages."),
            "in_flight": series("Leased messages."),
            "oldest_age_ms": series("Age of the oldest stored message."),
            "enqueued_per_s": series("Messages enqueued per second over the interval before the sample (null for the first)."),
            "delivered_per_s": series("Deliveries per second."),
            "acked_per_s": series("Acks per second."),
            "dead_lettered_per_s": series("Messages dead-lettered per second."),
            "first_delivery_p50_ms": series("Median enqueue to first delivery in the interval (null if none)."),
            "first_delivery_p99_ms": series("99th percentile of the same."),
            "ack_p50_ms": series("Median enqueue to ack in the interval (null if none)."),
            "ack_p99_ms": series("99th percentile of the same."),
        }),
    )
}
