//! Turning a frame into a request: the fixed header prefix, the API and version checks, the
//! shape check, then the codec. Pure: no I/O, so it can be fuzzed.

use crate::{shape, versions};
use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind};
use kafka_protocol::protocol::Decodable;

/// Largest request other than Produce. The codec sizes arrays before reading them, up to ~40
/// times the bytes of their smallest encoding; this keeps that bounded for every request
/// whose size is not records (Produce's bulk is record bytes, which are never expanded).
pub(crate) const MAX_OTHER_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// A decoded request.
pub(crate) struct Request {
    pub(crate) key: ApiKey,
    pub(crate) version: i16,
    pub(crate) correlation_id: i32,
    pub(crate) header: RequestHeader,
    pub(crate) body: RequestKind,
}

/// Why a frame is not a request Ferry serves.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// ApiVersions at a version Ferry does not know: answer in v0 with Ferry's ranges.
    ApiVersions { correlation_id: i32 },
    /// Anything else: close the connection, for this reason.
    Close(String),
}

/// Parses one frame (without its size prefix).
pub(crate) fn parse(frame: Bytes) -> Result<Request, Refused> {
    let Some(prefix) = frame.get(..8) else {
        return Err(Refused::Close(format!(
            "a frame of {} bytes is too short for a request header",
            frame.len()
        )));
    };
    let raw_key = i16::from_be_bytes([prefix[0], prefix[1]]);
    let version = i16::from_be_bytes([prefix[2], prefix[3]]);
    let correlation_id = i32::from_be_bytes([prefix[4], prefix[5], prefix[6], prefix[7]]);
    let Ok(key) = ApiKey::try_from(raw_key) else {
        return Err(Refused::Close(format!("unknown API key {raw_key}")));
    };
    if !versions::accepts(key, version) {
        if key == ApiKey::ApiVersions {
            return Err(Refused::ApiVersions { correlation_id });
        }
        let range = versions::supported(key).map_or("not at all".to_owned(), |s| {
            format!("v{}..=v{}", s.min, s.max)
        });
        return Err(Refused::Close(format!(
            "{key:?} v{version} is not supported (Ferry serves it {range})"
        )));
    }
    if key != ApiKey::Produce && frame.len() > MAX_OTHER_REQUEST_BYTES {
        return Err(Refused::Close(format!(
            "a {key:?} request of {} bytes is larger than the {MAX_OTHER_REQUEST_BYTES} bytes allowed for anything but Produce",
            frame.len()
        )));
    }
    let malformed =
        |reason: String| Refused::Close(format!("malformed {key:?} v{version}: {reason}"));
    let header_len =
        shape::check_header(key as i16, version, &frame).map_err(|e| malformed(e.to_string()))?;
    let mut body = frame.slice(header_len..);
    shape::check(key as i16, version, &body).map_err(|e| malformed(e.to_string()))?;
    let mut header_bytes = frame.slice(..header_len);
    let header = RequestHeader::decode(&mut header_bytes, key.request_header_version(version))
        .map_err(|e| malformed(format!("header: {e}")))?;
    let body =
        RequestKind::decode(key, &mut body, version).map_err(|e| malformed(e.to_string()))?;
    Ok(Request {
        key,
        version,
        correlation_id,
        header,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_frames_unknown_keys_and_versions_are_refused_with_a_reason() {
        let close = |frame: &[u8]| match parse(Bytes::copy_from_slice(frame)) {
            Err(Refused::Close(reason)) => reason,
            Err(other) => format!("{other:?}"),
            Ok(_) => "accepted".to_owned(),
        };
        assert!(close(&[0, 3, 0]).contains("too short"));
        assert!(close(&[3, 231, 0, 0, 0, 0, 0, 1]).contains("unknown API key 999"));
        assert!(close(&[0, 1, 0, 13, 0, 0, 0, 1]).contains("Fetch v13 is not supported"));
        assert!(close(&[0, 26, 0, 0, 0, 0, 0, 1]).contains("not supported"));
        assert_eq!(
            parse(Bytes::from_static(&[0, 18, 0, 9, 0, 0, 0, 7])).err(),
            Some(Refused::ApiVersions { correlation_id: 7 })
        );
    }

    #[test]
    fn a_huge_array_count_is_refused_before_the_codec_sees_it() {
        // Metadata v0, correlation 1, client id null, then 2^31 - 1 topics in 4 bytes.
        let frame = [0, 3, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff];
        match parse(Bytes::copy_from_slice(&frame)) {
            Err(Refused::Close(reason)) => {
                assert!(reason.contains("malformed Metadata v0"), "{reason}")
            }
            _ => panic!("accepted an impossible array"),
        }
    }
}
