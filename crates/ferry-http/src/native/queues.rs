//! `PUT`/`GET`/`DELETE /v1/queues/{q}` and `GET /v1/queues`.

use crate::error::ApiError;
use crate::extract::{OptionalJsonBody, PathParams};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ferry_api::{QueueConfig, QueueDetails, QueueEntry, QueueList};
use ferry_broker::Upsert;

/// Creates a queue (201) or replaces its config (200); an empty body means all defaults.
pub(crate) async fn put_queue(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
    OptionalJsonBody(config): OptionalJsonBody<QueueConfig>,
) -> Result<(StatusCode, Json<QueueEntry>), ApiError> {
    let upsert = state.broker.put_queue(&name, config.clone()).await?;
    let status = match upsert {
        Upsert::Created => StatusCode::CREATED,
        Upsert::Updated => StatusCode::OK,
    };
    Ok((status, Json(QueueEntry { name, config })))
}

/// Every queue with its config.
pub(crate) async fn list_queues(
    State(state): State<AppState>,
) -> Result<Json<QueueList>, ApiError> {
    let queues = state.broker.list_queues().await?;
    Ok(Json(QueueList {
        queues: queues
            .into_iter()
            .map(|q| QueueEntry {
                name: q.name,
                config: q.config,
            })
            .collect(),
    }))
}

/// One queue's config, stats and relations.
pub(crate) async fn get_queue(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
) -> Result<Json<QueueDetails>, ApiError> {
    let info = state.broker.queue_info(&name).await?;
    Ok(Json(QueueDetails {
        name: info.name,
        config: info.config,
        stats: info.stats,
        created_at: info.created_at,
        updated_at: info.updated_at,
        dead_letter_sources: info.dead_letter_sources,
    }))
}

/// Deletes a queue and its messages.
pub(crate) async fn delete_queue(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
) -> Result<StatusCode, ApiError> {
    state.broker.delete_queue(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}
