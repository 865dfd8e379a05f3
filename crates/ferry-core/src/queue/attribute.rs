//! Typed attributes: values that carry a data type and must come back exactly as they were
//! sent (SQS message attributes such as `Number.float` or `Binary.png`, and system attributes
//! such as a trace header).
//!
//! Plain string attributes live in a message's `attributes` map, as the native API has always
//! had them; only values with another type, or system attributes, live here. Ferry stores them
//! in the message's blob and never interprets them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The value of a typed attribute.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TypedValue {
    /// A textual value (SQS `String` and `Number` types travel as text).
    Text(String),
    /// Raw bytes (SQS `Binary` types).
    Binary(Vec<u8>),
}

impl TypedValue {
    /// The value's bytes: UTF-8 for text.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            TypedValue::Text(s) => s.as_bytes(),
            TypedValue::Binary(b) => b,
        }
    }
}

/// One attribute with its declared data type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypedAttribute {
    /// The producer's data type, kept verbatim (e.g. `Number`, `Number.float`, `Binary.png`).
    pub data_type: String,
    /// The value.
    pub value: TypedValue,
}

/// A message's typed attributes and system attributes, kept verbatim in its blob.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypedAttributes {
    /// Application attributes whose type is not a plain string, by name.
    pub message: BTreeMap<String, TypedAttribute>,
    /// System attributes set by the producer (e.g. `AWSTraceHeader`), by name.
    pub system: BTreeMap<String, TypedAttribute>,
}

impl TypedAttributes {
    /// Whether there are none at all.
    pub fn is_empty(&self) -> bool {
        self.message.is_empty() && self.system.is_empty()
    }

    /// How many application attributes there are (what counts against the attribute limit).
    pub fn len(&self) -> usize {
        self.message.len()
    }

    /// Every name and value of both maps (for the checks on names and sizes).
    pub fn iter(&self) -> impl Iterator<Item = (&String, &TypedAttribute)> {
        self.message.iter().chain(self.system.iter())
    }

    /// Bytes of every name, type and value together.
    pub fn size_bytes(&self) -> usize {
        self.iter()
            .map(|(name, a)| name.len() + a.data_type.len() + a.value.as_bytes().len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attribute(data_type: &str, value: TypedValue) -> TypedAttribute {
        TypedAttribute {
            data_type: data_type.into(),
            value,
        }
    }

    // docs/queues.md#bad-input: typed attributes count toward the attribute limits.
    #[test]
    fn enqueue_checks_typed_attributes_too() {
        use crate::queue::{Body, NewMessage, QueueConfig, QueueState};
        use crate::time::Timestamp;
        let mut q = QueueState::new(0, QueueConfig::default());
        let with = |name: &str, value: TypedValue| {
            let mut m = NewMessage {
                body: Body::text("b"),
                ..NewMessage::default()
            };
            m.typed_attributes
                .message
                .insert(name.to_owned(), attribute("Number", value));
            m
        };
        let now = Timestamp(1);
        let ok = with("n", TypedValue::Text("1".into()));
        assert!(q.decide_enqueue(now, &[ok], &[10]).is_ok());
        let unnamed = with("", TypedValue::Text("1".into()));
        assert!(q.decide_enqueue(now, &[unnamed], &[10]).is_err());
        let huge = with("n", TypedValue::Binary(vec![0; 2 * 1024 * 1024]));
        assert!(q.decide_enqueue(now, &[huge], &[10]).is_err());
        let mut many = with("n", TypedValue::Text("1".into()));
        for i in 0..64 {
            many.attributes.insert(format!("a{i}"), "v".into());
        }
        assert!(q.decide_enqueue(now, &[many], &[10]).is_err());
    }

    #[test]
    fn sizes_and_counts_cover_both_maps() {
        let mut typed = TypedAttributes::default();
        assert!(typed.is_empty());
        typed.message.insert(
            "n".into(),
            attribute("Number.int", TypedValue::Text("42".into())),
        );
        typed.system.insert(
            "AWSTraceHeader".into(),
            attribute("String", TypedValue::Binary(vec![1, 2])),
        );
        assert!(!typed.is_empty());
        assert_eq!(typed.len(), 1);
        assert_eq!(typed.size_bytes(), 1 + 10 + 2 + 14 + 6 + 2);
        assert_eq!(typed.iter().count(), 2);
    }
}
