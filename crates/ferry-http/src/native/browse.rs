//! `GET /v1/queues/{q}/messages` (peek) and `DELETE /v1/queues/{q}/messages/{id}` (cancel).

use crate::error::ApiError;
use crate::extract::{PathParams, QueryParams};
use crate::native::dead_letter;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ferry_api::browse::{DEFAULT_PEEK_LIMIT, MAX_PEEK_LIMIT};
use ferry_api::{Lease, MessageId, PeekQuery, PeekResponse, PeekedEntry};
use ferry_broker::PeekedMessage;

/// Browses messages in queue order without leasing them.
pub(crate) async fn peek(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
    QueryParams(query): QueryParams<PeekQuery>,
) -> Result<Json<PeekResponse>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_PEEK_LIMIT);
    if !(1..=MAX_PEEK_LIMIT).contains(&limit) {
        return Err(ApiError::invalid_request(format!(
            "limit must be between 1 and {MAX_PEEK_LIMIT}, not {limit}"
        )));
    }
    let messages = state.broker.peek(&name, limit).await?;
    Ok(Json(PeekResponse {
        messages: messages.into_iter().map(peek_encode).collect(),
    }))
}

fn peek_encode(m: PeekedMessage) -> PeekedEntry {
    let (body, body_base64) = ferry_api::encode_body(m.body);
    PeekedEntry {
        id: m.id,
        seq: m.seq,
        state: m.state,
        body,
        body_base64,
        attributes: m.attributes,
        receive_count: m.receive_count,
        enqueued_at: m.enqueued_at,
        visible_at: m.visible_at,
        expires_at: m.expires_at,
        group: m.group,
        priority: m.priority,
        lease: m.lease.map(|l| Lease {
            consumer: l.consumer,
            since: l.since,
            until: l.until,
        }),
        dead_letter: m.dead_letter.map(dead_letter),
    }
}

/// Removes one message that is not in flight.
pub(crate) async fn cancel(
    State(state): State<AppState>,
    PathParams((name, id)): PathParams<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let Some(id) = MessageId::parse(&id) else {
        return Err(ApiError::invalid_request(format!(
            "invalid message id {id:?}: expected 32 hex digits"
        )));
    };
    state.broker.cancel(&name, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
