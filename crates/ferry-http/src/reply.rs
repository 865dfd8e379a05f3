//! JSON replies written into a buffer sized up front. axum's `Json` starts from 128 bytes and
//! doubles as it writes, so a reply of a hundred messages is copied about eight times on its
//! way out; the handlers of large replies know their size closely enough to avoid that.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A JSON reply whose encoding is expected to take about `.1` bytes.
pub(crate) struct SizedJson<T>(pub(crate) T, pub(crate) usize);

/// Bytes a message or record reply takes besides its payload: field names, id, receipt or
/// key, times and punctuation (a generous estimate; too much only wastes a little memory).
pub(crate) const ENTRY_OVERHEAD_BYTES: usize = 384;

/// An estimate of the JSON size of `entries` whose payloads take `payload_bytes` in all
/// (base64 text included).
pub(crate) fn estimate(entries: usize, payload_bytes: usize) -> usize {
    // Text may grow when escaped, base64 by a third: a third more covers both mostly.
    payload_bytes + payload_bytes / 3 + entries * ENTRY_OVERHEAD_BYTES + 128
}

impl<T: Serialize> IntoResponse for SizedJson<T> {
    fn into_response(self) -> Response {
        let mut bytes = Vec::with_capacity(self.1);
        match serde_json::to_writer(&mut bytes, &self.0) {
            Ok(()) => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                bytes,
            )
                .into_response(),
            Err(e) => {
                tracing::error!(error = %e, "could not encode a reply");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::to_bytes;

    #[tokio::test]
    async fn writes_the_same_json_as_axum_does() {
        let value = serde_json::json!({"messages": [{"body": "a\"b", "n": 1}], "next": null});
        let sized = SizedJson(&value, 8).into_response();
        let plain = axum::Json(&value).into_response();
        assert_eq!(sized.status(), plain.status());
        assert_eq!(
            sized.headers().get(header::CONTENT_TYPE),
            plain.headers().get(header::CONTENT_TYPE)
        );
        let (sized, plain) = (
            to_bytes(sized.into_body(), usize::MAX).await.ok(),
            to_bytes(plain.into_body(), usize::MAX).await.ok(),
        );
        assert!(sized.is_some());
        assert_eq!(sized, plain);
    }

    #[test]
    fn estimates_cover_overhead_and_payload() {
        assert!(estimate(100, 10_000) >= 100 * ENTRY_OVERHEAD_BYTES + 10_000);
        assert!(estimate(0, 0) > 0);
    }
}
