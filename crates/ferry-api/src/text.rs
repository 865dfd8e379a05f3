//! Reading a string field without copying it: serde's `Cow<str>` always allocates, while most
//! fields that are parsed at once (ids, times) can be read straight from the input.

use serde::Deserializer;
use serde::de::{Error, Visitor};
use std::fmt;

/// Hands the string the deserializer holds to `parse`, borrowed whenever the input allows;
/// `parse`'s error becomes the deserializer's.
pub(crate) fn parse_str<'de, D, T, E>(
    d: D,
    expecting: &'static str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    E: fmt::Display,
{
    d.deserialize_str(ParseStr { expecting, parse })
}

struct ParseStr<F> {
    expecting: &'static str,
    parse: F,
}

impl<'de, T, E, F> Visitor<'de> for ParseStr<F>
where
    F: FnOnce(&str) -> Result<T, E>,
    E: fmt::Display,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<R: Error>(self, s: &str) -> Result<T, R> {
        (self.parse)(s).map_err(R::custom)
    }
}

#[cfg(test)]
mod tests {
    use crate::time::rfc3339;
    use ferry_core::Timestamp;

    #[derive(serde::Deserialize)]
    struct At {
        #[serde(with = "rfc3339")]
        at: Timestamp,
    }

    #[test]
    fn reads_borrowed_and_escaped_strings_and_refuses_others() {
        let read = |json: &str| serde_json::from_str::<At>(json);
        let plain = read(r#"{"at":"1970-01-01T00:00:01.000Z"}"#).expect("a plain time");
        assert_eq!(plain.at.as_millis(), 1000);
        // An escape makes serde_json hand over a transient copy instead of a borrow.
        let escaped = read(r#"{"at":"1970-01-01T00:00:02.000\u005a"}"#).expect("an escaped time");
        assert_eq!(escaped.at.as_millis(), 2000);
        let bad = read(r#"{"at":"yesterday"}"#).err().expect("refused");
        assert!(bad.to_string().contains("year"), "{bad}");
        let not_text = read(r#"{"at":5}"#).err().expect("refused");
        assert!(
            not_text.to_string().contains("an RFC 3339 time"),
            "{not_text}"
        );
    }
}
