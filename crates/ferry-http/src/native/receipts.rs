//! `POST /v1/queues/{q}/ack`, `/nack` and `/visibility`: settle leases receipt by receipt.

use crate::error::ApiError;
use crate::extract::{JsonBody, PathParams};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use ferry_api::{
    AckRequest, BatchResponse, ErrorDetail, FailedReceipt, NackRequest, VisibilityRequest,
};
use ferry_broker::BatchOutcome;
use std::time::Duration;

/// Acks (deletes) leased messages.
pub(crate) async fn ack(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
    JsonBody(request): JsonBody<AckRequest>,
) -> Result<Json<BatchResponse>, ApiError> {
    receipts_check(&request.receipts)?;
    let outcome = state.broker.ack(&name, request.receipts).await?;
    Ok(Json(receipts_encode(outcome)))
}

/// Gives leased messages back, after `delay_ms` or the queue's backoff.
pub(crate) async fn nack(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
    JsonBody(request): JsonBody<NackRequest>,
) -> Result<Json<BatchResponse>, ApiError> {
    receipts_check(&request.receipts)?;
    let delay = request.delay_ms.map(Duration::from_millis);
    let outcome = state
        .broker
        .nack(&name, request.receipts, delay, request.reason)
        .await?;
    Ok(Json(receipts_encode(outcome)))
}

/// Sets the remaining lease of leased messages.
pub(crate) async fn visibility(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
    JsonBody(request): JsonBody<VisibilityRequest>,
) -> Result<Json<BatchResponse>, ApiError> {
    receipts_check(&request.receipts)?;
    let timeout = Duration::from_millis(request.visibility_timeout_ms);
    let outcome = state
        .broker
        .change_visibility(&name, request.receipts, timeout)
        .await?;
    Ok(Json(receipts_encode(outcome)))
}

pub(super) fn receipts_check(receipts: &[String]) -> Result<(), ApiError> {
    if receipts.is_empty() {
        return Err(ApiError::invalid_request("receipts must not be empty"));
    }
    Ok(())
}

pub(super) fn receipts_encode(outcome: BatchOutcome) -> BatchResponse {
    let failed = outcome
        .failed
        .into_iter()
        .map(|f| FailedReceipt {
            receipt: f.receipt,
            error: ErrorDetail::new(f.error.kind.code(), f.error.message),
        })
        .collect();
    BatchResponse {
        ok: outcome.ok,
        failed,
    }
}
