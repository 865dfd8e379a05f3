//! The MD5 digests SQS returns so that clients can check what the server understood:
//! of the body, and of message (or system) attributes by SQS's own encoding.
//!
//! The attribute encoding, per attribute in ascending order of name: the name, the data type
//! (each as a 4-byte big-endian length and the UTF-8 bytes), one transport byte (1 for
//! `String` and `Number` types, 2 for `Binary` types), then the value as a 4-byte big-endian
//! length and its bytes (UTF-8 for strings). The digest is the MD5 of it all, in lowercase hex.

use md5::{Digest, Md5};

/// How an attribute value travels: text or bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transport {
    /// `String` and `Number` types (and their custom suffixes).
    Text,
    /// `Binary` types.
    Binary,
}

impl Transport {
    fn byte(self) -> u8 {
        match self {
            Transport::Text => 1,
            Transport::Binary => 2,
        }
    }
}

/// One attribute as the digest sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AttributeRef<'a> {
    /// Its name.
    pub(crate) name: &'a str,
    /// Its data type as sent (e.g. `Number.float`).
    pub(crate) data_type: &'a str,
    /// Text or bytes.
    pub(crate) transport: Transport,
    /// The value's bytes.
    pub(crate) value: &'a [u8],
}

fn hex(digest: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(digest.len() * 2);
    for b in digest {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// The lowercase hex MD5 of `bytes` (`MD5OfMessageBody`, `MD5OfBody`).
pub(crate) fn md5_hex(bytes: &[u8]) -> String {
    hex(&Md5::digest(bytes))
}

fn update_with_length(md5: &mut Md5, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    md5.update(len.to_be_bytes());
    md5.update(bytes);
}

/// The SQS digest of a set of attributes, or `None` for an empty set (SQS then leaves the
/// digest out).
pub(crate) fn md5_of_attributes(attributes: &[AttributeRef<'_>]) -> Option<String> {
    if attributes.is_empty() {
        return None;
    }
    let mut sorted: Vec<&AttributeRef<'_>> = attributes.iter().collect();
    sorted.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    let mut md5 = Md5::new();
    for a in sorted {
        update_with_length(&mut md5, a.name.as_bytes());
        update_with_length(&mut md5, a.data_type.as_bytes());
        md5.update([a.transport.byte()]);
        update_with_length(&mut md5, a.value);
    }
    Some(hex(&md5.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text<'a>(name: &'a str, data_type: &'a str, value: &'a str) -> AttributeRef<'a> {
        AttributeRef {
            name,
            data_type,
            transport: Transport::Text,
            value: value.as_bytes(),
        }
    }

    #[test]
    fn body_digests_are_plain_md5() {
        // RFC 1321's test suite.
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
    }

    #[test]
    fn attribute_digests_match_published_values() {
        // Values published with the SQS attribute-digest algorithm (see the module docs).
        let string = text("attribName1", "String", "attribValue 1");
        assert_eq!(
            md5_of_attributes(&[string]).as_deref(),
            Some("19e27d4e946b072f3f58da80d94fd778")
        );
        let number = text(
            "customNumberTypeAttrib",
            "Number.float",
            "4563442423554324324264524243.32543234",
        );
        assert_eq!(
            md5_of_attributes(&[number]).as_deref(),
            Some("9fe1b90bbd9965bdf77bac517c7d2495")
        );
        let binary = AttributeRef {
            name: "binaryAttribute",
            data_type: "Binary",
            transport: Transport::Binary,
            value: b"Hello binary world!",
        };
        assert_eq!(
            md5_of_attributes(&[binary]).as_deref(),
            Some("31a92b15d92f8db860eda32aceb656c3")
        );
        // Order of the input does not matter: names are sorted.
        assert_eq!(
            md5_of_attributes(&[binary, number, string]).as_deref(),
            Some("c932db14a896c663f83c260297d594ff")
        );
        assert_eq!(md5_of_attributes(&[]), None);
    }
}
