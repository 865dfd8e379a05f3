//! The native `/v1` API: one file per area, each handler a thin adapter (decode, call the
//! broker, encode). Queues: `queues`, `messages`, `receipts`, `browse`, `admin`. Streams:
//! `streams`, `records`, `groups`, and server-sent events in `events` and `group_events`.
//! Both: `resequence` (completions of resequencing queues) and `transactions`.

mod admin;
mod browse;
mod events;
mod group_events;
mod groups;
mod messages;
mod queues;
mod receipts;
mod records;
mod resequence;
mod streams;
mod transactions;

use crate::router::RouteDef;
use ferry_api::DeadLetter;
use ferry_broker::DeadLetterInfo;

/// Every `/v1/queues`, `/v1/streams` and `/v1/transactions` route.
pub(crate) fn routes() -> Vec<RouteDef> {
    let mut all = queue_routes();
    all.extend(stream_routes());
    all.push(RouteDef::post("/v1/transactions", transactions::transact));
    all
}

fn queue_routes() -> Vec<RouteDef> {
    vec![
        RouteDef::get("/v1/queues", queues::list_queues),
        RouteDef::put("/v1/queues/{q}", queues::put_queue),
        RouteDef::get("/v1/queues/{q}", queues::get_queue),
        RouteDef::delete("/v1/queues/{q}", queues::delete_queue),
        RouteDef::post("/v1/queues/{q}/messages", messages::send),
        RouteDef::get("/v1/queues/{q}/messages", browse::peek),
        RouteDef::delete("/v1/queues/{q}/messages/{id}", browse::cancel),
        RouteDef::post("/v1/queues/{q}/receive", messages::receive),
        RouteDef::post("/v1/queues/{q}/ack", receipts::ack),
        RouteDef::post("/v1/queues/{q}/nack", receipts::nack),
        RouteDef::post("/v1/queues/{q}/visibility", receipts::visibility),
        RouteDef::post("/v1/queues/{q}/complete", resequence::complete),
        RouteDef::post("/v1/queues/{q}/gaps/skip", resequence::skip_gaps),
        RouteDef::post("/v1/queues/{q}/purge", admin::purge),
        RouteDef::post("/v1/queues/{q}/redrive", admin::redrive),
    ]
}

fn stream_routes() -> Vec<RouteDef> {
    vec![
        RouteDef::get("/v1/streams", streams::list_streams),
        RouteDef::put("/v1/streams/{s}", streams::put_stream),
        RouteDef::get("/v1/streams/{s}", streams::get_stream),
        RouteDef::delete("/v1/streams/{s}", streams::delete_stream),
        RouteDef::post("/v1/streams/{s}/compact", streams::compact),
        RouteDef::post("/v1/streams/{s}/records", records::append),
        RouteDef::get("/v1/streams/{s}/partitions/{p}", streams::get_partition),
        RouteDef::get("/v1/streams/{s}/partitions/{p}/records", records::read),
        RouteDef::get(
            "/v1/streams/{s}/partitions/{p}/offsets",
            streams::offset_for_time,
        ),
        RouteDef::get(
            "/v1/streams/{s}/partitions/{p}/events",
            events::partition_events,
        ),
        RouteDef::get("/v1/streams/{s}/groups", groups::list_groups),
        RouteDef::get("/v1/streams/{s}/groups/{g}", groups::get_group),
        RouteDef::delete("/v1/streams/{s}/groups/{g}", groups::delete_group),
        RouteDef::post("/v1/streams/{s}/groups/{g}/join", groups::join),
        RouteDef::post("/v1/streams/{s}/groups/{g}/poll", groups::poll),
        RouteDef::post("/v1/streams/{s}/groups/{g}/heartbeat", groups::heartbeat),
        RouteDef::post("/v1/streams/{s}/groups/{g}/commit", groups::commit),
        RouteDef::post("/v1/streams/{s}/groups/{g}/leave", groups::leave),
        RouteDef::post("/v1/streams/{s}/groups/{g}/reset", groups::reset),
        RouteDef::get(
            "/v1/streams/{s}/groups/{g}/events",
            group_events::group_events,
        ),
    ]
}

/// A dead-letter history on the wire.
fn dead_letter(d: DeadLetterInfo) -> DeadLetter {
    DeadLetter {
        source_queue: d.source_queue,
        original_id: d.original_id,
        original_enqueued_at: d.original_enqueued_at,
        receive_count: d.receive_count,
        cause: d.cause,
        first_failure_at: d.first_failure_at,
        last_failure_at: d.last_failure_at,
        reasons: d.reasons,
    }
}
