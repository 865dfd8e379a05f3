//! `GET /health/live` and `GET /health/ready`.

use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ferry_api::Health;

/// 200 while the process serves HTTP at all.
pub(crate) async fn live() -> Json<Health> {
    Json(Health {
        status: "live".to_owned(),
    })
}

/// 200 while the broker is open and the server takes work; 503 once shutdown has begun.
pub(crate) async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    if state.is_ready() {
        (
            StatusCode::OK,
            Json(Health {
                status: "ready".to_owned(),
            }),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Health {
                status: "shutting_down".to_owned(),
            }),
        )
    }
}
