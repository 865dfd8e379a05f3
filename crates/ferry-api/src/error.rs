//! The error reply every failed request gets: `{"error": {"code": "...", "message": "..."}}`.

use serde::{Deserialize, Serialize};

/// The body of every error reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// A stable code to match on and a message for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable snake_case code, e.g. `queue_not_found`; clients branch on this, never on
    /// `message`.
    pub code: String,
    /// Lowercase explanation that names the object involved.
    pub message: String,
    /// With `offset_mismatch` (an append whose `expected_offset` was not the partition's next
    /// offset): the offset the partition will actually give its next record, so the producer
    /// can decide whether to retry there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<u64>,
}

impl ErrorDetail {
    /// An error detail with `code` and `message` and nothing else.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> ErrorDetail {
        ErrorDetail {
            code: code.into(),
            message: message.into(),
            next_offset: None,
        }
    }
}

impl ErrorResponse {
    /// An error reply with `code` and `message`.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> ErrorResponse {
        ErrorResponse {
            error: ErrorDetail::new(code, message),
        }
    }

    /// The same reply carrying `next_offset` (for `offset_mismatch`).
    pub fn with_next_offset(mut self, next_offset: u64) -> ErrorResponse {
        self.error.next_offset = Some(next_offset);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_shape_is_nested_code_and_message() {
        let e = ErrorResponse::new("queue_not_found", "queue \"a\" does not exist");
        let json = serde_json::to_value(&e).unwrap_or_default();
        assert_eq!(
            json,
            serde_json::json!({"error": {"code": "queue_not_found", "message": "queue \"a\" does not exist"}})
        );
        let back: Result<ErrorResponse, _> = serde_json::from_value(json);
        assert_eq!(back.ok(), Some(e));
    }

    #[test]
    fn offset_mismatch_carries_the_next_offset() {
        let e = ErrorResponse::new("offset_mismatch", "expected offset 3, next is 7")
            .with_next_offset(7);
        let json = serde_json::to_value(&e).unwrap_or_default();
        assert_eq!(json["error"]["next_offset"], 7);
        let back: Result<ErrorResponse, _> = serde_json::from_value(json);
        assert_eq!(back.ok().and_then(|b| b.error.next_offset), Some(7));
    }
}
