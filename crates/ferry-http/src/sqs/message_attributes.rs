//! Message attributes: SQS's typed values onto a Ferry message and back, their checks, and
//! the views the MD5 digests are computed over.
//!
//! A `String` attribute is a plain Ferry attribute (so the native API sees it and its string
//! attributes reach SQS consumers); every other type (`Number`, `Binary`, custom suffixes such
//! as `Number.float`) and the system attribute `AWSTraceHeader` are kept, typed, in the
//! message's typed attributes.

use super::errors::SqsError;
use super::md5::{AttributeRef, Transport};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ferry_broker::{TypedAttribute, TypedAttributes, TypedValue};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Most message attributes per message (as in SQS).
pub(crate) const MAX_ATTRIBUTES: usize = 10;
/// Longest attribute name and data type, in characters.
const MAX_NAME_CHARS: usize = 256;

/// An attribute value on the wire (`MessageAttributeValue`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct WireValue {
    /// `String`, `Number`, `Binary`, optionally with a `.suffix`.
    #[serde(default)]
    pub(crate) data_type: String,
    /// The value of string and number types.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) string_value: Option<String>,
    /// The base64 value of binary types.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) binary_value: Option<String>,
    /// Reserved by SQS (not implemented there either).
    #[serde(default, skip_serializing)]
    pub(crate) string_list_values: Option<Vec<String>>,
    /// Reserved by SQS (not implemented there either).
    #[serde(default, skip_serializing)]
    pub(crate) binary_list_values: Option<Vec<String>>,
}

/// A message's attributes as Ferry stores them.
#[derive(Debug, Default)]
pub(crate) struct Decoded {
    /// The `String` ones.
    pub(crate) plain: BTreeMap<String, String>,
    /// The others, and system attributes.
    pub(crate) typed: TypedAttributes,
    /// Bytes that count toward the message size: names, types and values.
    pub(crate) size: usize,
}

fn base_type(data_type: &str) -> &str {
    data_type.split('.').next().unwrap_or_default()
}

fn check_name(name: &str) -> Result<(), SqsError> {
    let valid_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    let lower = name.to_ascii_lowercase();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || !valid_chars
        || name.starts_with('.')
        || name.ends_with('.')
        || name.contains("..")
        || lower.starts_with("aws.")
        || lower.starts_with("amazon.")
    {
        return Err(SqsError::invalid(format!(
            "Message attribute name '{name}' is invalid."
        )));
    }
    Ok(())
}

fn is_number(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exponent) = match s.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e.strip_prefix(['+', '-']).unwrap_or(e))),
        None => (s, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |p: &str| p.chars().all(|c| c.is_ascii_digit());
    !(int.is_empty() && frac.is_empty())
        && digits(int)
        && digits(frac)
        && exponent.is_none_or(|e| !e.is_empty() && digits(e))
}

/// Whether every character is one SQS accepts in a message (XML's character set).
pub(crate) fn valid_contents(s: &str) -> bool {
    s.chars().all(|c| {
        matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
            || c >= '\u{10000}'
    })
}

fn decode_value(name: &str, v: &WireValue) -> Result<TypedAttribute, SqsError> {
    let data_type = v.data_type.as_str();
    if data_type.is_empty() {
        return Err(SqsError::invalid(format!(
            "The message attribute '{name}' must contain non-empty message attribute type."
        )));
    }
    if data_type.chars().count() > MAX_NAME_CHARS {
        return Err(SqsError::invalid(format!(
            "The message attribute '{name}' has a data type that is too long."
        )));
    }
    let value = match base_type(data_type) {
        "String" | "Number" => {
            let s = v.string_value.clone().ok_or_else(|| {
                SqsError::invalid(format!(
                    "The message attribute '{name}' with type '{data_type}' must use field 'String'."
                ))
            })?;
            if !valid_contents(&s) {
                return Err(SqsError::new(
                    "InvalidMessageContents",
                    format!("The message attribute '{name}' contains invalid characters."),
                ));
            }
            if base_type(data_type) == "Number" && !is_number(&s) {
                return Err(SqsError::invalid(format!(
                    "Can't cast the value of message (user) attribute '{name}' to a number."
                )));
            }
            TypedValue::Text(s)
        }
        "Binary" => {
            let b64 = v.binary_value.as_deref().ok_or_else(|| {
                SqsError::invalid(format!(
                    "The message attribute '{name}' with type 'Binary' must use field 'Binary'."
                ))
            })?;
            TypedValue::Binary(STANDARD.decode(b64).map_err(|_| {
                SqsError::invalid(format!(
                    "The message attribute '{name}' has an invalid base64 binary value."
                ))
            })?)
        }
        _ => {
            return Err(SqsError::invalid(format!(
                "The type of message (user) attribute '{name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String."
            )));
        }
    };
    Ok(TypedAttribute {
        data_type: data_type.to_owned(),
        value,
    })
}

/// Checks and converts a message's attributes and system attributes.
///
/// # Errors
/// `InvalidParameterValue` (bad names, types, values, too many), `InvalidMessageContents`.
pub(crate) fn decode(
    message: &BTreeMap<String, WireValue>,
    system: &BTreeMap<String, WireValue>,
) -> Result<Decoded, SqsError> {
    if message.len() > MAX_ATTRIBUTES {
        return Err(SqsError::invalid(format!(
            "Number of message attributes [{}] exceeds the allowed maximum [{MAX_ATTRIBUTES}].",
            message.len()
        )));
    }
    let mut out = Decoded::default();
    for (name, v) in message {
        check_name(name)?;
        let attribute = decode_value(name, v)?;
        out.size += name.len() + attribute.data_type.len() + attribute.value.as_bytes().len();
        match attribute {
            TypedAttribute {
                data_type,
                value: TypedValue::Text(s),
            } if data_type == "String" => {
                out.plain.insert(name.clone(), s);
            }
            attribute => {
                out.typed.message.insert(name.clone(), attribute);
            }
        }
    }
    for (name, v) in system {
        if name != "AWSTraceHeader" {
            return Err(SqsError::invalid(format!(
                "Message system attribute name '{name}' is invalid."
            )));
        }
        let attribute = decode_value(name, v)?;
        if attribute.data_type != "String" {
            return Err(SqsError::invalid(format!(
                "The message system attribute '{name}' must be of type String."
            )));
        }
        out.typed.system.insert(name.clone(), attribute);
    }
    Ok(out)
}

fn typed_ref<'a>(name: &'a str, a: &'a TypedAttribute) -> AttributeRef<'a> {
    AttributeRef {
        name,
        data_type: &a.data_type,
        transport: match a.value {
            TypedValue::Text(_) => Transport::Text,
            TypedValue::Binary(_) => Transport::Binary,
        },
        value: a.value.as_bytes(),
    }
}

/// The message attributes as the digest sees them, restricted to `keep`.
pub(crate) fn refs<'a>(
    plain: &'a BTreeMap<String, String>,
    typed: &'a TypedAttributes,
    keep: &dyn Fn(&str) -> bool,
) -> Vec<AttributeRef<'a>> {
    let plain = plain.iter().map(|(name, value)| AttributeRef {
        name,
        data_type: "String",
        transport: Transport::Text,
        value: value.as_bytes(),
    });
    let typed = typed.message.iter().map(|(name, a)| typed_ref(name, a));
    plain.chain(typed).filter(|a| keep(a.name)).collect()
}

/// The system attributes as the digest sees them.
pub(crate) fn system_refs(typed: &TypedAttributes) -> Vec<AttributeRef<'_>> {
    typed
        .system
        .iter()
        .map(|(name, a)| typed_ref(name, a))
        .collect()
}

/// The wire form of attributes (for a receive), restricted to `keep`.
pub(crate) fn encode(
    plain: &BTreeMap<String, String>,
    typed: &TypedAttributes,
    keep: &dyn Fn(&str) -> bool,
) -> BTreeMap<String, WireValue> {
    let mut out = BTreeMap::new();
    for (name, value) in plain.iter().filter(|(n, _)| keep(n)) {
        out.insert(
            name.clone(),
            WireValue {
                data_type: "String".into(),
                string_value: Some(value.clone()),
                ..WireValue::default()
            },
        );
    }
    for (name, a) in typed.message.iter().filter(|(n, _)| keep(n)) {
        let (string_value, binary_value) = match &a.value {
            TypedValue::Text(s) => (Some(s.clone()), None),
            TypedValue::Binary(b) => (None, Some(STANDARD.encode(b))),
        };
        out.insert(
            name.clone(),
            WireValue {
                data_type: a.data_type.clone(),
                string_value,
                binary_value,
                ..WireValue::default()
            },
        );
    }
    out
}

/// Whether a `MessageAttributeNames` list selects attribute `name` (`All`, `.*`, exact names
/// and `prefix.*`).
pub(crate) fn selected(patterns: &[String], name: &str) -> bool {
    patterns.iter().any(|p| {
        p == "All"
            || p == ".*"
            || p == name
            || p.strip_suffix('*')
                .filter(|prefix| prefix.ends_with('.'))
                .is_some_and(|prefix| name.starts_with(prefix) && name.len() > prefix.len())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqs::md5::md5_of_attributes;

    fn wire(data_type: &str, s: Option<&str>, b: Option<&str>) -> WireValue {
        WireValue {
            data_type: data_type.into(),
            string_value: s.map(Into::into),
            binary_value: b.map(Into::into),
            ..WireValue::default()
        }
    }

    #[test]
    fn attributes_round_trip_with_their_types_and_digest() {
        let message: BTreeMap<String, WireValue> = [
            ("s".to_string(), wire("String", Some("v"), None)),
            ("n".to_string(), wire("Number.float", Some("-1.5e3"), None)),
            ("b".to_string(), wire("Binary.png", None, Some("AAEC"))),
        ]
        .into();
        let decoded = decode(&message, &BTreeMap::new()).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(decoded.plain.len(), 1);
        assert_eq!(decoded.typed.message.len(), 2);
        let all = |_: &str| true;
        assert_eq!(encode(&decoded.plain, &decoded.typed, &all), message);
        let digest = md5_of_attributes(&refs(&decoded.plain, &decoded.typed, &all));
        assert_eq!(digest.as_deref().map(str::len), Some(32));
    }

    #[test]
    fn bad_attributes_are_refused() {
        let one = |name: &str, v: WireValue| {
            decode(&[(name.to_string(), v)].into(), &BTreeMap::new())
                .err()
                .map(|e| e.name)
        };
        let invalid = Some("InvalidParameterValue");
        assert_eq!(one("AWS.x", wire("String", Some("v"), None)), invalid);
        assert_eq!(one("a..b", wire("String", Some("v"), None)), invalid);
        assert_eq!(one("a", wire("Text", Some("v"), None)), invalid);
        assert_eq!(one("a", wire("Number", Some("1x"), None)), invalid);
        assert_eq!(one("a", wire("Binary", None, Some("!!"))), invalid);
        assert_eq!(one("a", wire("String", None, None)), invalid);
        assert_eq!(one("a", wire("", Some("v"), None)), invalid);
        assert_eq!(
            one("a", wire("String", Some("\u{1}"), None)),
            Some("InvalidMessageContents")
        );
        let many: BTreeMap<String, WireValue> = (0..11)
            .map(|i| (format!("a{i}"), wire("String", Some("v"), None)))
            .collect();
        assert!(decode(&many, &BTreeMap::new()).is_err());
        let system = [("Other".to_string(), wire("String", Some("v"), None))].into();
        assert!(decode(&BTreeMap::new(), &system).is_err());
    }

    #[test]
    fn selection_patterns() {
        let p = |s: &[&str]| s.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        assert!(selected(&p(&["All"]), "x"));
        assert!(selected(&p(&[".*"]), "x"));
        assert!(selected(&p(&["a.*"]), "a.b"));
        assert!(!selected(&p(&["a.*"]), "ab"));
        assert!(!selected(&p(&[]), "x"));
        assert!(is_number("12") && is_number("-0.5") && is_number("1e10") && !is_number("."));
        assert!(valid_contents("tab\tok") && !valid_contents("\u{FFFF}"));
    }
}
