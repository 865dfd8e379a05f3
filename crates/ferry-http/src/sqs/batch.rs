//! The rules every batch action shares: 1 to 10 entries, distinct ids of 1 to 80 characters
//! from `[A-Za-z0-9_-]`, and the per-entry result shapes.

use super::errors::SqsError;
use serde::Serialize;
use std::collections::HashSet;

/// Most entries per batch (as in SQS).
pub(crate) const MAX_ENTRIES: usize = 10;
/// Longest batch entry id.
const MAX_ID_CHARS: usize = 80;

/// Checks a batch's entry ids.
///
/// # Errors
/// `EmptyBatchRequest`, `TooManyEntriesInBatchRequest`, `InvalidBatchEntryId`,
/// `BatchEntryIdsNotDistinct`, in that order of precedence.
pub(crate) fn check_ids<'a>(ids: impl ExactSizeIterator<Item = &'a str>) -> Result<(), SqsError> {
    let count = ids.len();
    if count == 0 {
        return Err(SqsError::new(
            "EmptyBatchRequest",
            "There should be at least one entry in the request.",
        ));
    }
    if count > MAX_ENTRIES {
        return Err(SqsError::new(
            "TooManyEntriesInBatchRequest",
            format!(
                "Maximum number of entries per request are {MAX_ENTRIES}. You have sent {count}."
            ),
        ));
    }
    let mut seen = HashSet::new();
    for id in ids {
        let valid = !id.is_empty()
            && id.chars().count() <= MAX_ID_CHARS
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err(SqsError::new(
                "InvalidBatchEntryId",
                "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.",
            ));
        }
        if !seen.insert(id) {
            return Err(SqsError::new(
                "BatchEntryIdsNotDistinct",
                format!("Id {id} repeated."),
            ));
        }
    }
    Ok(())
}

/// A failed entry (`BatchResultErrorEntry`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Failed {
    /// The entry's id.
    pub(crate) id: String,
    /// Whether the client was at fault.
    pub(crate) sender_fault: bool,
    /// The legacy error code (what the query protocol would say).
    pub(crate) code: String,
    /// Why.
    pub(crate) message: String,
}

impl Failed {
    /// The failure of entry `id` with `error`.
    pub(crate) fn new(id: &str, error: &SqsError) -> Failed {
        Failed {
            id: id.to_owned(),
            sender_fault: error.fault() == super::errors::Fault::Sender,
            code: error.legacy_code().to_owned(),
            message: error.message.clone(),
        }
    }
}

/// A succeeded entry that carries only its id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Succeeded {
    /// The entry's id.
    pub(crate) id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(ids: &[&str]) -> Option<&'static str> {
        check_ids(ids.iter().copied()).err().map(|e| e.name)
    }

    #[test]
    fn batch_id_rules() {
        assert_eq!(name(&[]), Some("EmptyBatchRequest"));
        assert_eq!(name(&["a"; 11]), Some("TooManyEntriesInBatchRequest"));
        assert_eq!(name(&["a", "a"]), Some("BatchEntryIdsNotDistinct"));
        assert_eq!(name(&["a b"]), Some("InvalidBatchEntryId"));
        let long = "x".repeat(81);
        assert_eq!(name(&[long.as_str()]), Some("InvalidBatchEntryId"));
        assert_eq!(name(&["a-1", "B_2"]), None);
        let f = Failed::new("a", &SqsError::new("ReceiptHandleIsInvalid", "bad"));
        assert!(f.sender_fault);
        assert_eq!(f.code, "ReceiptHandleIsInvalid");
    }
}
