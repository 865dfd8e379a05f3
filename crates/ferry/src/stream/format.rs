//! Pure helpers of `ferry stream`: records on one line, keys split from values, headers from
//! flags, and the text-or-base64 choice for bytes.

use crate::failure::Failure;
use crate::output::body_line;
use ferry_api::{AppendHeader, AppendRecord, Body, BodyEncoding, ReadRecord};
use std::io::Write as _;

/// Writes `text` to stdout. A closed stdout (`… | head`) ends the output quietly instead of
/// panicking like `print!`.
pub(crate) fn out(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// Writes a value as pretty JSON and a newline to stdout.
pub(crate) fn out_json<T: serde::Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => out(&format!("{text}\n")),
        Err(e) => eprintln!("error: cannot print JSON: {e}"),
    }
}

/// Bytes for people: escaped text when they are UTF-8, else `base64:…`.
pub(crate) fn bytes_line(bytes: Vec<u8>) -> String {
    body_line(&Body {
        bytes,
        encoding: BodyEncoding::Text,
    })
}

/// A record as `partition:offset key value`: the key `-` when there is none, the value
/// `<tombstone>` when there is none, bytes as [`bytes_line`]. Headers are left out.
pub(crate) fn record_line(partition: u32, record: &ReadRecord) -> String {
    let key = match record.decode_key() {
        Ok(Some(key)) => bytes_line(key),
        Ok(None) => "-".to_owned(),
        Err(e) => format!("<{e}>"),
    };
    let value = match record.decode_value() {
        Ok(Some(value)) => bytes_line(value),
        Ok(None) => "<tombstone>".to_owned(),
        Err(e) => format!("<{e}>"),
    };
    format!("{partition}:{} {key} {value}", record.offset)
}

/// A record as one line of JSON, its partition included.
pub(crate) fn record_json(partition: u32, record: &ReadRecord) -> String {
    let record = ReadRecord {
        partition: Some(partition),
        ..record.clone()
    };
    serde_json::to_string(&record).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// Splits `line` at the first `separator` into key and value.
pub(crate) fn split_key<'a>(line: &'a [u8], separator: &[u8]) -> Option<(&'a [u8], &'a [u8])> {
    if separator.is_empty() {
        return None;
    }
    let at = line
        .windows(separator.len())
        .position(|window| window == separator)?;
    let (key, rest) = line.split_at(at);
    Some((key, rest.get(separator.len()..).unwrap_or_default()))
}

/// What every produced record gets besides its value.
#[derive(Clone, Debug, Default)]
pub(crate) struct RecordTemplate {
    /// `--key`.
    pub(crate) key: Option<String>,
    /// `--key-separator`.
    pub(crate) key_separator: Option<String>,
    /// `--partition`.
    pub(crate) partition: Option<u32>,
    /// `--header`s.
    pub(crate) headers: Vec<AppendHeader>,
}

impl RecordTemplate {
    /// The record for one value (an argument or a line of stdin): text when it is UTF-8,
    /// binary otherwise, its key split off with `--key-separator` if given.
    ///
    /// # Errors
    /// `invalid_argument` when a key separator is given and the value lacks it.
    pub(crate) fn record(&self, value: &[u8]) -> Result<AppendRecord, Failure> {
        let (key, value) = match &self.key_separator {
            Some(separator) => {
                let (key, value) = split_key(value, separator.as_bytes()).ok_or_else(|| {
                    Failure::new(
                        "invalid_argument",
                        format!(
                            "{:?} has no key separator {separator:?}",
                            String::from_utf8_lossy(value)
                        ),
                    )
                })?;
                (Some(key), value)
            }
            None => (self.key.as_ref().map(String::as_bytes), value),
        };
        let mut record = match std::str::from_utf8(value) {
            Ok(text) => AppendRecord::text(text),
            Err(_) => AppendRecord::binary(value),
        };
        if let Some(key) = key {
            record = match std::str::from_utf8(key) {
                Ok(text) => record.with_key(text),
                Err(_) => record.with_binary_key(key),
            };
        }
        Ok(AppendRecord {
            partition: self.partition,
            headers: self.headers.clone(),
            ..record
        })
    }

    /// A tombstone for `--key`.
    pub(crate) fn tombstone(&self) -> AppendRecord {
        AppendRecord {
            key: self.key.clone(),
            partition: self.partition,
            headers: self.headers.clone(),
            ..AppendRecord::default()
        }
    }
}

/// Reads `--header NAME=VALUE` flags.
///
/// # Errors
/// `invalid_argument` for a flag without `=` or with an empty name.
pub(crate) fn parse_headers(flags: &[String]) -> Result<Vec<AppendHeader>, Failure> {
    flags
        .iter()
        .map(|flag| match flag.split_once('=') {
            Some((name, value)) if !name.is_empty() => Ok(AppendHeader::text(name, value)),
            _ => Err(Failure::new(
                "invalid_argument",
                format!("--header {flag:?}: expected NAME=VALUE"),
            )),
        })
        .collect()
}

/// A list of partitions as `0,1,2` (or `-` when empty).
pub(crate) fn partition_list(partitions: &[u32]) -> String {
    if partitions.is_empty() {
        return "-".to_owned();
    }
    let list: Vec<String> = partitions.iter().map(u32::to_string).collect();
    list.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_api::{RecordHeader, Timestamp};

    fn read(key: Option<&str>, value: Option<&str>, value_base64: Option<&str>) -> ReadRecord {
        ReadRecord {
            offset: 42,
            key: key.map(str::to_owned),
            value: value.map(str::to_owned),
            value_base64: value_base64.map(str::to_owned),
            headers: vec![RecordHeader {
                name: "h".into(),
                value: Some("hidden".into()),
                value_base64: None,
            }],
            timestamp: Timestamp(0),
            ..ReadRecord::default()
        }
    }

    #[test]
    fn lines_show_partition_offset_key_and_value() {
        assert_eq!(
            record_line(3, &read(Some("user-1"), Some("hello world"), None)),
            "3:42 user-1 hello world"
        );
        assert_eq!(record_line(0, &read(None, Some("v"), None)), "0:42 - v");
        assert_eq!(
            record_line(0, &read(Some("k"), None, None)),
            "0:42 k <tombstone>"
        );
        assert_eq!(
            record_line(1, &read(None, None, Some("AP8="))),
            "1:42 - base64:AP8="
        );
        assert_eq!(
            record_line(1, &read(None, None, Some("aGk="))),
            "1:42 - hi",
            "base64 that is UTF-8 shows as text"
        );
        assert_eq!(
            record_line(1, &read(None, Some("a\nb"), None)),
            "1:42 - a\\nb"
        );
        let both = ReadRecord {
            key_base64: Some("AA==".into()),
            ..read(Some("k"), Some("v"), None)
        };
        assert!(record_line(0, &both).starts_with("0:42 <give either key"));
    }

    #[test]
    fn json_lines_carry_the_partition() {
        let line = record_json(2, &read(Some("k"), Some("v"), None));
        assert_eq!(
            line,
            r#"{"partition":2,"offset":42,"key":"k","value":"v","headers":[{"name":"h","value":"hidden"}],"timestamp":"1970-01-01T00:00:00.000Z"}"#
        );
    }

    #[test]
    fn keys_split_at_the_first_separator() {
        assert_eq!(split_key(b"k:v:w", b":"), Some((&b"k"[..], &b"v:w"[..])));
        assert_eq!(split_key(b"k=>v", b"=>"), Some((&b"k"[..], &b"v"[..])));
        assert_eq!(split_key(b":v", b":"), Some((&b""[..], &b"v"[..])));
        assert_eq!(split_key(b"k:", b":"), Some((&b"k"[..], &b""[..])));
        assert_eq!(split_key(b"kv", b":"), None);
        assert_eq!(split_key(b"k", b""), None);
    }

    #[test]
    fn templates_build_text_binary_and_keyed_records() {
        let template = RecordTemplate {
            key_separator: Some("\t".into()),
            partition: Some(1),
            headers: vec![AppendHeader::text("src", "cli")],
            ..RecordTemplate::default()
        };
        let record = template.record(b"user-1\thello").unwrap_or_default();
        assert_eq!(
            (
                record.key.as_deref(),
                record.value.as_deref(),
                record.partition
            ),
            (Some("user-1"), Some("hello"), Some(1))
        );
        assert_eq!(record.headers.len(), 1);
        let binary = template.record(b"\xff\t\xfe").unwrap_or_default();
        assert_eq!(
            (binary.key_base64.as_deref(), binary.value_base64.as_deref()),
            (Some("/w=="), Some("/g=="))
        );
        let err = template.record(b"no separator").err().map(|e| e.code);
        assert_eq!(err.as_deref(), Some("invalid_argument"));
        let keyed = RecordTemplate {
            key: Some("k".into()),
            ..RecordTemplate::default()
        };
        let record = keyed.record(b"a\tb").unwrap_or_default();
        assert_eq!(
            (record.key.as_deref(), record.value.as_deref()),
            (Some("k"), Some("a\tb"))
        );
        let tombstone = keyed.tombstone();
        assert_eq!(
            (tombstone.key.as_deref(), tombstone.decode_value()),
            (Some("k"), Ok(None))
        );
        assert_eq!(
            RecordTemplate::default()
                .record(b"x")
                .ok()
                .and_then(|r| r.key),
            None
        );
    }

    #[test]
    fn headers_need_a_name_and_an_equals_sign() {
        let ok = parse_headers(&["a=1".into(), "b=x=y".into(), "c=".into()]).unwrap_or_default();
        assert_eq!(ok.get(1), Some(&AppendHeader::text("b", "x=y")));
        assert_eq!(ok.len(), 3);
        for bad in ["novalue", "=v"] {
            assert!(parse_headers(&[bad.to_owned()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn partition_lists_are_comma_separated() {
        assert_eq!(partition_list(&[0, 2, 5]), "0,2,5");
        assert_eq!(partition_list(&[]), "-");
    }
}
