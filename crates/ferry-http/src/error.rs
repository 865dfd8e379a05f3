//! Error replies: broker errors through the broker's one mapping table, plus the few errors that
//! only exist at the HTTP layer (unknown route, wrong method, body over the limit).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ferry_api::ErrorResponse;
use ferry_broker::{Error, ErrorKind};

/// Code of a request for a path that no route serves (404).
pub const CODE_NOT_FOUND: &str = "not_found";
/// Code of a request whose path exists but not with that method (405).
pub const CODE_METHOD_NOT_ALLOWED: &str = "method_not_allowed";
/// Code of a request whose body is larger than `max_request_bytes` (413).
pub const CODE_REQUEST_TOO_LARGE: &str = "request_too_large";

/// A failed request, ready to be written as `{"error": {"code", "message"}}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// With `offset_mismatch`: the partition's actual next offset (from
    /// [`Error::next_offset`]), so the producer can catch up and retry.
    next_offset: Option<u64>,
}

impl ApiError {
    /// A 400 `invalid_request`, through the broker's table.
    pub(crate) fn invalid_request(message: impl Into<String>) -> ApiError {
        ApiError::from(Error::new(ErrorKind::InvalidRequest, message))
    }

    /// The same error with `what: ` before its message (e.g. which entry of a request failed).
    pub(crate) fn context(mut self, what: &str) -> ApiError {
        self.message = format!("{what}: {}", self.message);
        self
    }

    /// An error that exists only at the HTTP layer.
    pub(crate) fn http(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            next_offset: None,
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        let status =
            StatusCode::from_u16(e.kind.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        ApiError {
            status,
            code: e.kind.code(),
            message: e.message,
            next_offset: e.next_offset,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(code = self.code, message = %self.message, "request failed");
        }
        let mut body = ErrorResponse::new(self.code, self.message);
        body.error.next_offset = self.next_offset;
        (self.status, Json(body)).into_response()
    }
}

/// The reply for an unknown path.
pub(crate) async fn not_found() -> ApiError {
    ApiError::http(StatusCode::NOT_FOUND, CODE_NOT_FOUND, "no such route")
}

/// The reply for a known path with a method it does not serve.
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::http(
        StatusCode::METHOD_NOT_ALLOWED,
        CODE_METHOD_NOT_ALLOWED,
        "method not allowed on this route",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    async fn reply(error: ApiError) -> (u16, Value) {
        let response = error.into_response();
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap_or_default();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    #[tokio::test]
    async fn broker_errors_use_the_broker_table_and_the_error_shape() {
        for kind in ErrorKind::ALL {
            let (status, body) =
                reply(ApiError::from(Error::new(kind, "queue \"q\" is unhappy"))).await;
            assert_eq!(status, kind.http_status(), "{kind:?}");
            assert_eq!(
                body,
                serde_json::json!({"error": {"code": kind.code(), "message": "queue \"q\" is unhappy"}})
            );
        }
    }

    #[tokio::test]
    async fn offset_mismatch_replies_carry_the_next_offset() {
        let mut e = Error::new(
            ErrorKind::OffsetMismatch,
            "partition 0: expected 3, next is 7",
        );
        e.next_offset = Some(7);
        let (status, body) = reply(ApiError::from(e)).await;
        assert_eq!(status, 409);
        assert_eq!(body["error"]["code"], "offset_mismatch");
        assert_eq!(body["error"]["next_offset"], 7);
    }

    #[tokio::test]
    async fn http_layer_errors_have_their_own_codes() {
        assert_eq!(
            reply(not_found().await).await.1["error"]["code"],
            CODE_NOT_FOUND
        );
        assert_eq!(reply(method_not_allowed().await).await.0, 405);
        let (status, body) = reply(ApiError::invalid_request("bad")).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("invalid_request"))
        );
    }
}
