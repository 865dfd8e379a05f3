//! `GET /v1/openapi.json`: the OpenAPI 3.1 document of every route, parameter and schema.
//!
//! Written by hand with small helpers; the tests below compare its (method, path) pairs with the
//! router's table, and its config and stats schemas with what the types serialize to.

mod schemas;
mod streams;

use axum::Json;
use serde_json::{Map, Value, json};

/// Serves the document.
pub(crate) async fn document() -> Json<Value> {
    Json(openapi_document())
}

/// The OpenAPI 3.1 document of the native API.
pub fn openapi_document() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Ferry native API",
            "version": "1",
            "description": "Queues and event streams over HTTP/JSON. Durations are integer milliseconds (`_ms`), times are RFC 3339 \
                            strings in UTC, text bodies travel as `body` and binary ones as `body_base64` (stream keys, values \
                            and header values likewise as `key`/`key_base64`, `value`/`value_base64`). Every error \
                            is `{\"error\": {\"code\", \"message\"}}` (plus `next_offset` with `offset_mismatch`).",
        },
        "paths": paths(),
        "components": {
            "schemas": schemas::all(),
            "parameters": parameters(),
            "responses": {
                "Error": {"description": "The request failed; `code` says why.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            },
        },
    })
}

fn parameters() -> Value {
    let mut parameters = json!({
                "q": {"name": "q", "in": "path", "required": true, "description": "Queue name: 1 to 80 of [A-Za-z0-9_-], optionally ending in .fifo.", "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]+(\\.fifo)?$", "maxLength": 80}},
                "id": {"name": "id", "in": "path", "required": true, "description": "Message id as returned by send or peek.", "schema": {"type": "string"}},
                "limit": {"name": "limit", "in": "query", "required": false, "description": "Most messages to return.", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}},
    });
    if let Some(map) = parameters.as_object_mut() {
        map.extend(streams::parameters());
    }
    parameters
}

fn paths() -> Value {
    let q = "/v1/queues/{q}";
    let mut paths = Map::new();
    let mut add = |path: &str, method: &str, op: Value| {
        if let Some(item) = paths
            .entry(path.to_owned())
            .or_insert_with(|| json!({}))
            .as_object_mut()
        {
            item.insert(method.to_owned(), op);
        }
    };
    add(
        "/health/live",
        "get",
        op(
            "Liveness: 200 while the process serves HTTP.",
            &[],
            None,
            ok("Health"),
            &[],
        ),
    );
    add(
        "/health/ready",
        "get",
        op(
            "Readiness: 200 once the broker has recovered every queue, 503 while it recovers \
             (status `recovering`; every other route answers 503 `unavailable` then) or shuts down.",
            &[],
            None,
            ok("Health"),
            &["503"],
        ),
    );
    add(
        "/v1/openapi.json",
        "get",
        op(
            "This document.",
            &[],
            None,
            json!({"200": {"description": "The OpenAPI document.", "content": {"application/json": {}}}}),
            &[],
        ),
    );
    add(
        "/v1/queues",
        "get",
        op(
            "List every queue with its config.",
            &[],
            None,
            ok("QueueList"),
            &[],
        ),
    );
    add(
        q,
        "put",
        op(
            "Create a queue (201) or replace its config (200). An empty body means all defaults.",
            &["q"],
            Some(("QueueConfig", false)),
            json!({"201": body_of("Created.", "QueueEntry"), "200": body_of("Updated.", "QueueEntry")}),
            &["400", "404", "409"],
        ),
    );
    add(
        q,
        "get",
        op(
            "A queue's config, stats and dead-letter sources.",
            &["q"],
            None,
            ok("QueueDetails"),
            &["400", "404"],
        ),
    );
    add(
        q,
        "delete",
        op(
            "Delete a queue and its messages.",
            &["q"],
            None,
            no_content(),
            &["400", "404", "409"],
        ),
    );
    add(
        &format!("{q}/messages"),
        "post",
        op(
            "Enqueue a batch, all or nothing; answered once durable.",
            &["q"],
            Some(("SendRequest", true)),
            ok("SendResponse"),
            &["400", "404", "413", "429", "503"],
        ),
    );
    add(
        &format!("{q}/messages"),
        "get",
        op(
            "Browse messages in queue order without leasing them.",
            &["q", "limit"],
            None,
            ok("PeekResponse"),
            &["400", "404"],
        ),
    );
    add(
        &format!("{q}/messages/{{id}}"),
        "delete",
        op(
            "Cancel one message that is not in flight (e.g. a scheduled one).",
            &["q", "id"],
            None,
            no_content(),
            &["400", "404", "409"],
        ),
    );
    add(
        &format!("{q}/receive"),
        "post",
        op(
            "Receive up to `max` messages, long-polling up to `wait_ms`. An empty body means the defaults.",
            &["q"],
            Some(("ReceiveRequest", false)),
            ok("ReceiveResponse"),
            &["400", "404", "503"],
        ),
    );
    add(
        &format!("{q}/ack"),
        "post",
        op(
            "Ack (delete) leased messages.",
            &["q"],
            Some(("AckRequest", true)),
            ok("BatchResponse"),
            &["400", "404"],
        ),
    );
    add(
        &format!("{q}/nack"),
        "post",
        op(
            "Give leased messages back, after `delay_ms` or the queue's backoff.",
            &["q"],
            Some(("NackRequest", true)),
            ok("BatchResponse"),
            &["400", "404"],
        ),
    );
    add(
        &format!("{q}/visibility"),
        "post",
        op(
            "Set the remaining lease of leased messages.",
            &["q"],
            Some(("VisibilityRequest", true)),
            ok("BatchResponse"),
            &["400", "404"],
        ),
    );
    add(
        &format!("{q}/complete"),
        "post",
        op(
            "Resequencing queues: ack messages with their results; each result is released to the output once every earlier message of its order key is. Answered once the results are durable.",
            &["q"],
            Some(("CompleteRequest", true)),
            ok("BatchResponse"),
            &["400", "404", "413"],
        ),
    );
    add(
        &format!("{q}/gaps/skip"),
        "post",
        op(
            "Resequencing queues with gap_policy block: skip the blocked gaps of one order key (or of all), releasing the results held behind them.",
            &["q"],
            Some(("SkipGapsRequest", false)),
            ok("SkipGapsResponse"),
            &["400", "404"],
        ),
    );
    add(
        &format!("{q}/purge"),
        "post",
        op(
            "Remove every message.",
            &["q"],
            None,
            ok("PurgeResponse"),
            &["400", "404"],
        ),
    );
    add(
        &format!("{q}/redrive"),
        "post",
        op(
            "Move messages from this dead-letter queue back to their source queues.",
            &["q"],
            Some(("RedriveRequest", false)),
            ok("RedriveResponse"),
            &["400", "404", "409"],
        ),
    );
    add(
        "/metrics",
        "get",
        json!({
            "summary": "Prometheus metrics (OpenMetrics text): queue depth, bytes, age, counters and latency histograms; stream partition offsets, sizes, appends, consumer-group lag and compaction; storage, HTTP. See docs/operations.md.",
            "parameters": [],
            "responses": {"200": {"description": "Success.", "content": {"application/openmetrics-text": {"schema": {"type": "string"}}}}},
        }),
    );
    add(
        "/v1/metrics/history",
        "get",
        op(
            "The last minutes of every queue's depth, rates and latency percentiles, and of every stream's end offsets, size, append rate and consumer lag, sampled by the server (for charts).",
            &[],
            None,
            ok("MetricsHistory"),
            &[],
        ),
    );
    add(
        "/v1/transactions",
        "post",
        op(
            "Ack leased messages (all of one queue) and publish messages and records as one durable command: all or nothing. Answered once durable; the targets store what was published right after, exactly once.",
            &[],
            Some(("TransactionRequest", true)),
            ok("TransactionResponse"),
            &["400", "404", "409", "413"],
        ),
    );
    streams::add_paths(&mut paths);
    Value::Object(paths)
}

/// One operation: summary, parameters (by component name), optional request body (schema name,
/// required), success responses, and the error statuses it may answer with.
fn op(
    summary: &str,
    params: &[&str],
    body: Option<(&str, bool)>,
    success: Value,
    errors: &[&str],
) -> Value {
    let mut responses = success.as_object().cloned().unwrap_or_default();
    for status in errors {
        responses.insert(
            (*status).to_owned(),
            json!({"$ref": "#/components/responses/Error"}),
        );
    }
    let mut op = json!({
        "summary": summary,
        "parameters": params.iter().map(|p| json!({"$ref": format!("#/components/parameters/{p}")})).collect::<Vec<_>>(),
        "responses": responses,
    });
    if let (Some((schema, required)), Some(map)) = (body, op.as_object_mut()) {
        map.insert(
            "requestBody".to_owned(),
            json!({"required": required, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}}),
        );
    }
    op
}

fn body_of(description: &str, schema: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}})
}

fn ok(schema: &str) -> Value {
    json!({"200": body_of("Success.", schema)})
}

fn no_content() -> Value {
    json!({"204": {"description": "Done; no body."}})
}

#[cfg(test)]
mod tests;
