//! Serde adapter for message ids, which travel as UUID-like strings.

use ferry_core::MessageId;
use serde::{Deserializer, Serializer};

/// Writes the id in its UUID-like form.
///
/// # Errors
/// Only those of the serializer.
pub fn serialize<S: Serializer>(id: &MessageId, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(id.text().as_str())
}

/// Reads an id written by [`serialize`] (dashes optional).
///
/// # Errors
/// When the value is not a string of 32 hex digits.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<MessageId, D::Error> {
    crate::text::parse_str(d, "a message id", |s| {
        MessageId::parse(s).ok_or_else(|| format!("invalid message id {s:?}"))
    })
}
