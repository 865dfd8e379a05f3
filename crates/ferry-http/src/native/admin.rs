//! `POST /v1/queues/{q}/purge` and `POST /v1/queues/{q}/redrive`.

use crate::error::ApiError;
use crate::extract::{OptionalJsonBody, PathParams};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use ferry_api::{PurgeResponse, RedriveRequest, RedriveResponse};
use ferry_broker::RedriveOptions;

/// Removes every message of the queue.
pub(crate) async fn purge(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
) -> Result<Json<PurgeResponse>, ApiError> {
    let purged = state.broker.purge(&name).await?;
    Ok(Json(PurgeResponse { purged }))
}

/// Moves messages from a dead-letter queue back to their source queues.
pub(crate) async fn redrive(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
    OptionalJsonBody(request): OptionalJsonBody<RedriveRequest>,
) -> Result<Json<RedriveResponse>, ApiError> {
    let options = RedriveOptions {
        max: request.max,
        rate_per_s: request.rate_per_s,
    };
    let moved = state.broker.redrive(&name, options).await?;
    Ok(Json(RedriveResponse { moved }))
}
