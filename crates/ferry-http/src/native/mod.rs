//! The native `/v1` API: one file per area, each handler a thin adapter (decode, call the
//! broker, encode).

mod admin;
mod browse;
mod messages;
mod queues;
mod receipts;

use crate::router::RouteDef;
use ferry_api::DeadLetter;
use ferry_broker::DeadLetterInfo;

/// Every `/v1/queues` route.
pub(crate) fn routes() -> Vec<RouteDef> {
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
        RouteDef::post("/v1/queues/{q}/purge", admin::purge),
        RouteDef::post("/v1/queues/{q}/redrive", admin::redrive),
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
