//! Resequencing queues: `POST /v1/queues/{q}/complete` and `POST /v1/queues/{q}/gaps/skip`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The body of `POST /v1/queues/{q}/complete`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    /// The completions; each settles on its own (the reply is a `BatchResponse`).
    pub completions: Vec<CompletionEntry>,
}

/// One message completed with its result. Exactly one of `body` and `body_base64` is set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompletionEntry {
    /// The receipt of a delivery of the message (the first completion of a message wins).
    pub receipt: String,
    /// The result as UTF-8 text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The result as binary, standard base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
    /// The result's attributes (stream output: record headers).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

impl CompletionEntry {
    /// A completion with a text result.
    pub fn text(receipt: impl Into<String>, body: impl Into<String>) -> CompletionEntry {
        CompletionEntry {
            receipt: receipt.into(),
            body: Some(body.into()),
            ..CompletionEntry::default()
        }
    }
}

/// The body of `POST /v1/queues/{q}/gaps/skip`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkipGapsRequest {
    /// The order key (message group) whose blocked gaps to skip; every key if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// The reply of `POST /v1/queues/{q}/gaps/skip`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkipGapsResponse {
    /// How many blocked gaps were skipped.
    pub skipped: u64,
}
