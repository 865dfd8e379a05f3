//! Resequencing queues: `POST /v1/queues/{q}/complete` (ack with a result, released in arrival
//! order per key) and `POST /v1/queues/{q}/gaps/skip` (an operator moves blocked keys on).

use super::receipts::{receipts_check, receipts_encode};
use crate::error::ApiError;
use crate::extract::{JsonBody, OptionalJsonBody, PathParams};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use ferry_api::{BatchResponse, CompleteRequest, SkipGapsRequest, SkipGapsResponse, decode_body};
use ferry_broker::Completion;

/// Completes messages: each is acked and its result released once every earlier message of
/// its order key is.
pub(crate) async fn complete(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
    JsonBody(request): JsonBody<CompleteRequest>,
) -> Result<Json<BatchResponse>, ApiError> {
    let receipts: Vec<String> = request
        .completions
        .iter()
        .map(|c| c.receipt.clone())
        .collect();
    receipts_check(&receipts)?;
    let mut completions = Vec::with_capacity(request.completions.len());
    for (index, c) in request.completions.into_iter().enumerate() {
        let body = decode_body(c.body, c.body_base64)
            .map_err(|e| ApiError::invalid_request(format!("completion {index}: {e}")))?;
        completions.push(Completion {
            receipt: c.receipt,
            body,
            attributes: c.attributes,
        });
    }
    let outcome = state.broker.complete(&name, completions).await?;
    Ok(Json(receipts_encode(outcome)))
}

/// Skips the blocked gaps of one order key (or of all).
pub(crate) async fn skip_gaps(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
    OptionalJsonBody(request): OptionalJsonBody<SkipGapsRequest>,
) -> Result<Json<SkipGapsResponse>, ApiError> {
    let skipped = state.broker.skip_gaps(&name, request.key).await?;
    Ok(Json(SkipGapsResponse { skipped }))
}
