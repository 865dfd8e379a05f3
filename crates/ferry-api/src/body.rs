//! Message bodies on the wire: UTF-8 text as `body`, anything else as `body_base64`.
//!
//! A message remembers which of the two it was sent with and is handed out the same way, so a
//! text producer and a text consumer never see base64.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ferry_core::queue::{Body, BodyEncoding};

/// Why the `body`/`body_base64` pair of a message was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BodyError {
    /// Both fields were given.
    #[error("give either body or body_base64, not both")]
    Both,
    /// Neither field was given.
    #[error("one of body or body_base64 is required")]
    Neither,
    /// `body_base64` is not valid standard base64.
    #[error("body_base64 is not valid base64: {0}")]
    Base64(String),
}

/// Turns the two wire fields into a [`Body`] that remembers its encoding.
///
/// # Errors
/// [`BodyError`] unless exactly one field is present and, for `body_base64`, valid base64 (the
/// standard alphabet, with padding).
pub fn decode_body(body: Option<String>, body_base64: Option<String>) -> Result<Body, BodyError> {
    match (body, body_base64) {
        (Some(_), Some(_)) => Err(BodyError::Both),
        (None, None) => Err(BodyError::Neither),
        (Some(text), None) => Ok(Body::text(text)),
        (None, Some(b64)) => STANDARD
            .decode(b64.as_bytes())
            .map(Body::binary)
            .map_err(|e| BodyError::Base64(e.to_string())),
    }
}

/// Turns a [`Body`] into the `(body, body_base64)` wire fields, exactly one of them set.
///
/// A text body whose bytes are not UTF-8 (which the broker never stores) goes out as base64
/// rather than being mangled.
pub fn encode_body(body: Body) -> (Option<String>, Option<String>) {
    match body.encoding {
        // The bytes become the string as they are: no copy for the usual, valid text.
        BodyEncoding::Text => match String::from_utf8(body.bytes) {
            Ok(text) => (Some(text), None),
            Err(e) => (None, Some(STANDARD.encode(e.as_bytes()))),
        },
        BodyEncoding::Binary => (None, Some(STANDARD.encode(&body.bytes))),
    }
}

/// Encodes bytes as standard base64, for clients that build `body_base64` themselves.
pub fn to_base64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_field_is_required() {
        assert_eq!(decode_body(None, None), Err(BodyError::Neither));
        assert_eq!(
            decode_body(Some("a".into()), Some("YQ==".into())),
            Err(BodyError::Both)
        );
        assert_eq!(decode_body(Some(String::new()), None), Ok(Body::text("")));
        assert_eq!(
            decode_body(None, Some(String::new())),
            Ok(Body::binary(Vec::new()))
        );
    }

    #[test]
    fn base64_must_be_valid() {
        assert_eq!(
            decode_body(None, Some("AP8=".into())),
            Ok(Body::binary(vec![0, 255]))
        );
        for bad in ["AP8", "A!==", "é", "AP8=AP8="] {
            let got = decode_body(None, Some(bad.into()));
            assert!(matches!(got, Err(BodyError::Base64(_))), "{bad}: {got:?}");
        }
    }

    #[test]
    fn bodies_come_back_the_way_they_went_in() {
        assert_eq!(
            encode_body(Body::text("héllo")),
            (Some("héllo".into()), None)
        );
        assert_eq!(
            encode_body(Body::binary(b"h\xffi".to_vec())),
            (None, Some("aP9p".into()))
        );
        assert_eq!(
            encode_body(Body::binary(b"plain".to_vec())),
            (None, Some("cGxhaW4=".into()))
        );
        let broken = Body {
            bytes: vec![0xff],
            encoding: BodyEncoding::Text,
        };
        assert_eq!(encode_body(broken), (None, Some("/w==".into())));
        for body in [Body::text("round trip"), Body::binary(vec![1, 2, 3, 0])] {
            let (text, b64) = encode_body(body.clone());
            assert_eq!(decode_body(text, b64), Ok(body));
        }
    }
}
