//! Settling leases: `POST /v1/queues/{q}/ack`, `/nack` and `/visibility`.

use crate::error::ErrorDetail;
use serde::{Deserialize, Serialize};

/// The body of `POST /v1/queues/{q}/ack`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AckRequest {
    /// Receipts of the leases to settle (the messages are deleted).
    pub receipts: Vec<String>,
}

/// The body of `POST /v1/queues/{q}/nack`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NackRequest {
    /// Receipts of the leases to give back.
    pub receipts: Vec<String>,
    /// Delay before redelivery; the queue's backoff if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// Why processing failed; kept with the message and shown if it is dead-lettered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The body of `POST /v1/queues/{q}/visibility`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VisibilityRequest {
    /// Receipts of the leases to change.
    pub receipts: Vec<String>,
    /// New remaining lease length, from now.
    pub visibility_timeout_ms: u64,
}

/// The reply to ack, nack and visibility: receipts settle one by one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchResponse {
    /// How many receipts succeeded.
    pub ok: u32,
    /// The ones that failed, each with its reason.
    #[serde(default)]
    pub failed: Vec<FailedReceipt>,
}

/// One receipt of a batch that failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedReceipt {
    /// The receipt as given.
    pub receipt: String,
    /// Why it failed, e.g. `stale_receipt`.
    pub error: ErrorDetail,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visibility_needs_a_timeout_and_nack_options_are_optional() {
        let v: Result<VisibilityRequest, _> = serde_json::from_str(r#"{"receipts": ["a"]}"#);
        let err = v.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            err.contains("missing field `visibility_timeout_ms`"),
            "{err}"
        );
        let n: Result<NackRequest, _> = serde_json::from_str(r#"{"receipts": ["a"]}"#);
        assert_eq!(
            n.ok(),
            Some(NackRequest {
                receipts: vec!["a".into()],
                delay_ms: None,
                reason: None
            })
        );
        let a: Result<AckRequest, _> = serde_json::from_str(r#"{"receipts": "a"}"#);
        assert!(a.is_err());
    }
}
