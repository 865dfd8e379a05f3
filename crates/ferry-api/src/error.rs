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
}

impl ErrorResponse {
    /// An error reply with `code` and `message`.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> ErrorResponse {
        ErrorResponse {
            error: ErrorDetail {
                code: code.into(),
                message: message.into(),
            },
        }
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
}
