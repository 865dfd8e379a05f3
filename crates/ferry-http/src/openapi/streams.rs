//! The `/v1/streams` part of the document: paths and their parameters (the schemas are in
//! `schemas/streams.rs`).

use super::{body_of, no_content, ok, op};
use serde_json::{Map, Value, json};

/// Adds every stream path to `paths`.
pub(super) fn add_paths(paths: &mut Map<String, Value>) {
    let mut add = |path: &str, method: &str, op: Value| {
        if let Some(item) = paths
            .entry(path.to_owned())
            .or_insert_with(|| json!({}))
            .as_object_mut()
        {
            item.insert(method.to_owned(), op);
        }
    };
    let s = "/v1/streams/{s}";
    let p = "/v1/streams/{s}/partitions/{p}";
    let g = "/v1/streams/{s}/groups/{g}";
    add(
        "/v1/streams",
        "get",
        op(
            "List every stream with its config.",
            &[],
            None,
            ok("StreamList"),
            &[],
        ),
    );
    add(
        s,
        "put",
        op(
            "Create a stream (201) or replace its config (200). An empty body means all defaults; \
             partitions can grow, never shrink.",
            &["s"],
            Some(("StreamConfig", false)),
            json!({"201": body_of("Created.", "StreamEntry"), "200": body_of("Updated.", "StreamEntry")}),
            &["400", "503"],
        ),
    );
    add(
        s,
        "get",
        op(
            "A stream's config, partitions and consumer groups.",
            &["s"],
            None,
            ok("StreamDetails"),
            &["404"],
        ),
    );
    add(
        s,
        "delete",
        op(
            "Delete a stream, its records and its groups' offsets.",
            &["s"],
            None,
            no_content(),
            &["404"],
        ),
    );
    add(
        &format!("{s}/compact"),
        "post",
        op(
            "Run key compaction now (a compacted stream only; it also runs in the background).",
            &["s"],
            None,
            ok("CompactResponse"),
            &["400", "404"],
        ),
    );
    add(
        &format!("{s}/records"),
        "post",
        op(
            "Append a batch, all or nothing; answered once durable. A record that cannot be \
             decoded is refused with 400 naming its index, and nothing is appended. With \
             `expected_offset`, a partition whose next offset differs answers 409 \
             `offset_mismatch` with the actual `next_offset` in the error.",
            &["s"],
            Some(("AppendRequest", true)),
            ok("AppendResponse"),
            &["400", "404", "409", "413", "503"],
        ),
    );
    add(
        p,
        "get",
        op(
            "Where a partition's records begin and end.",
            &["s", "p"],
            None,
            ok("PartitionInfo"),
            &["400", "404"],
        ),
    );
    add(
        &format!("{p}/records"),
        "get",
        op(
            "Read records of one partition, long-polling up to `wait_ms` at its end. An offset past \
             the end is 400 `offset_out_of_range` (the message names the range); one that no longer \
             exists starts at the next stored record (`skipped_to`).",
            &[
                "s",
                "p",
                "offset",
                "max_records",
                "max_bytes",
                "wait_ms",
                "encoding",
            ],
            None,
            read_ok(),
            &["400", "404"],
        ),
    );
    add(
        &format!("{p}/offsets"),
        "get",
        op(
            "The offset of the partition's first record at or after `timestamp` (null if none).",
            &["s", "p", "timestamp"],
            None,
            ok("OffsetForTime"),
            &["400", "404"],
        ),
    );
    add(
        &format!("{p}/events"),
        "get",
        op(
            "Follow a partition as server-sent events: each record is `event: record` with `id` its \
             offset and `data` a ReadRecord. Reconnecting with `Last-Event-ID` resumes after that \
             offset. Comments keep the connection alive; a failure after the reply started is sent \
             as `event: error` (data: an ErrorDetail) and ends it.",
            &["s", "p", "events_offset", "last_event_id_offset"],
            None,
            event_stream(
                "`event: record` events, each with `id: <offset>` and `data: <ReadRecord as JSON>`.",
            ),
            &["400", "404"],
        ),
    );
    add(
        &format!("{s}/groups"),
        "get",
        op(
            "The stream's consumer groups (with members or committed offsets).",
            &["s"],
            None,
            ok("GroupList"),
            &["404"],
        ),
    );
    add(
        g,
        "get",
        op(
            "A group's members, committed offsets and lag per partition.",
            &["s", "g"],
            None,
            ok("GroupDetails"),
            &["400", "404"],
        ),
    );
    add(
        g,
        "delete",
        op(
            "Delete a group's committed offsets; only while it has no members (409 otherwise).",
            &["s", "g"],
            None,
            no_content(),
            &["400", "404", "409"],
        ),
    );
    group_member_paths(&mut add, g);
}

/// The member operations of a group: join, poll, heartbeat, commit, leave, reset, events.
fn group_member_paths(add: &mut impl FnMut(&str, &str, Value), g: &str) {
    add(
        &format!("{g}/join"),
        "post",
        op(
            "Join a group as a new member (or rejoin as `member_id`); the group rebalances. An \
             empty body means the defaults.",
            &["s", "g"],
            Some(("JoinRequest", false)),
            ok("JoinResponse"),
            &["400", "404"],
        ),
    );
    add(
        &format!("{g}/poll"),
        "post",
        op(
            "Fetch records of the member's partitions from its positions (its last poll, else the \
             committed offset, else `auto_offset_reset`), long-polling up to `wait_ms`. Also a \
             heartbeat.",
            &["s", "g"],
            Some(("PollRequest", true)),
            ok("PollResponse"),
            &["400", "404"],
        ),
    );
    add(
        &format!("{g}/heartbeat"),
        "post",
        op(
            "Keep a member alive without fetching; tells it its generation and partitions.",
            &["s", "g"],
            Some(("HeartbeatRequest", true)),
            ok("HeartbeatResponse"),
            &["400", "404"],
        ),
    );
    add(
        &format!("{g}/commit"),
        "post",
        op(
            "Commit offsets (each the next offset to read). A member gives its id and generation: \
             a stale generation is 409 `stale_generation`, a partition it does not own 409 \
             `conflict`. With neither, only while the group has no members.",
            &["s", "g"],
            Some(("CommitRequest", true)),
            ok("CommitResponse"),
            &["400", "404", "409"],
        ),
    );
    add(
        &format!("{g}/leave"),
        "post",
        op(
            "Leave the group; the member's partitions go to the others at once.",
            &["s", "g"],
            Some(("LeaveRequest", true)),
            no_content(),
            &["400", "404"],
        ),
    );
    add(
        &format!("{g}/reset"),
        "post",
        op(
            "Move the group's committed offsets; only while it has no members (409 otherwise). \
             Answers with every committed offset of the group afterwards.",
            &["s", "g"],
            Some(("ResetRequest", true)),
            ok("ResetResponse"),
            &["400", "404", "409"],
        ),
    );
    add(
        &format!("{g}/events"),
        "get",
        op(
            "Consume as a group member over server-sent events, for as long as the connection \
             lasts. First and after every rebalance: `event: assignment` (data: a JoinResponse). \
             Each record: `event: record`, data a ReadRecord with its `partition`, `id` the \
             member's positions after it (`0:15,1:22`: partition:next_offset). Nothing is \
             committed unless the client reconnects with `Last-Event-ID`, which commits those \
             positions (for the partitions the new member owns) before consuming: delivery is at \
             least once. The member leaves the group when the connection ends.",
            &[
                "s",
                "g",
                "session_timeout_ms",
                "auto_offset_reset",
                "last_event_id_positions",
            ],
            None,
            event_stream(
                "`event: assignment` and `event: record` events; an `event: error` (data: an \
                 ErrorDetail) before the reply ends on a failure, e.g. `unknown_member` when the \
                 member's session expired because the client read too slowly.",
            ),
            &["400", "404", "409"],
        ),
    );
}

fn event_stream(description: &str) -> Value {
    json!({"200": {"description": description, "content": {"text/event-stream": {"schema": {"type": "string"}}}}})
}

/// A partition read's success: the records, and their `next_offset` again as a header.
fn read_ok() -> Value {
    let mut reply = body_of("Success.", "ReadResponse");
    if let Some(map) = reply.as_object_mut() {
        map.insert(
            "headers".to_owned(),
            json!({ferry_api::NEXT_OFFSET_HEADER: {
                "description": "The reply's `next_offset`, so that a reader can ask for the next records before it has read this body.",
                "schema": {"type": "integer", "format": "int64", "minimum": 0},
            }}),
        );
    }
    json!({"200": reply})
}

/// The path, query and header parameters of the stream routes.
pub(super) fn parameters() -> Map<String, Value> {
    let query = |name: &str, description: &str, schema: Value| json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema});
    let offset = json!({"oneOf": [{"type": "integer", "minimum": 0}, {"type": "string", "enum": ["earliest", "latest"]}]});
    let mut events_offset = offset.clone();
    if let Some(map) = events_offset.as_object_mut() {
        map.insert("default".to_owned(), json!("latest"));
    }
    let mut read_offset = offset;
    if let Some(map) = read_offset.as_object_mut() {
        map.insert("default".to_owned(), json!("earliest"));
    }
    let last_event_id = |description: &str| json!({"name": "Last-Event-ID", "in": "header", "required": false, "description": description, "schema": {"type": "string"}});
    let entries = [
        (
            "s",
            json!({"name": "s", "in": "path", "required": true, "description": "Stream name: 1 to 249 of [A-Za-z0-9._-], not . or ..", "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]+$", "maxLength": 249}}),
        ),
        (
            "p",
            json!({"name": "p", "in": "path", "required": true, "description": "Partition number, from 0.", "schema": {"type": "integer", "minimum": 0}}),
        ),
        (
            "g",
            json!({"name": "g", "in": "path", "required": true, "description": "Consumer group name: 1 to 255 of [A-Za-z0-9._-].", "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]+$", "maxLength": 255}}),
        ),
        (
            "offset",
            query(
                "offset",
                "Where to start: an offset, `earliest` or `latest`.",
                read_offset,
            ),
        ),
        (
            "max_records",
            query(
                "max_records",
                "Most records to return.",
                json!({"type": "integer", "minimum": 1, "maximum": 10_000, "default": 1000}),
            ),
        ),
        (
            "max_bytes",
            query(
                "max_bytes",
                "Rough bound on the bytes of the records returned (at least one record is returned).",
                json!({"type": "integer", "minimum": 1, "maximum": 67_108_864, "default": 1_048_576}),
            ),
        ),
        (
            "wait_ms",
            query(
                "wait_ms",
                "Long poll: how long to wait for a record at the end of the partition. Milliseconds.",
                json!({"type": "integer", "minimum": 0, "default": 0}),
            ),
        ),
        (
            "encoding",
            query(
                "encoding",
                "`auto`: keys and values as text when valid UTF-8, else base64; `base64`: always base64.",
                json!({"type": "string", "enum": ["auto", "base64"], "default": "auto"}),
            ),
        ),
        (
            "timestamp",
            json!({"name": "timestamp", "in": "query", "required": true, "description": "The instant to look up, RFC 3339.", "schema": {"type": "string", "format": "date-time"}}),
        ),
        (
            "events_offset",
            query(
                "offset",
                "Where to start: an offset, `earliest` or `latest`. Ignored with `Last-Event-ID`.",
                events_offset,
            ),
        ),
        (
            "last_event_id_offset",
            last_event_id(
                "The offset of the last record received: the feed resumes just after it.",
            ),
        ),
        (
            "session_timeout_ms",
            query(
                "session_timeout_ms",
                "The member's session timeout (1000 to 600000, default 10000). Milliseconds.",
                json!({"type": "integer", "minimum": 1000, "maximum": 600_000}),
            ),
        ),
        (
            "auto_offset_reset",
            query(
                "auto_offset_reset",
                "Where to start in partitions the group never committed.",
                json!({"type": "string", "enum": ["earliest", "latest"], "default": "latest"}),
            ),
        ),
        (
            "last_event_id_positions",
            last_event_id(
                "The `id` of the last record event received (`0:15,1:22`): committed before consuming resumes.",
            ),
        ),
    ];
    entries
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
}
