//! The body every workload sends: a fixed-width text header (producer, sequence number, send
//! time) padded to the message size. Text, so that every system carries it unchanged
//! (Ferry's `body`, a Redis field, a NATS or AMQP payload) with no base64 on any path.

/// `FC1:` + producer (4 digits) + `:` + sequence (12) + `:` + send time in ns (20) + `:`.
pub const HEADER_BYTES: usize = 4 + 4 + 1 + 12 + 1 + 20 + 1;

/// What a body says about itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The producer that sent it (0-based).
    pub producer: u16,
    /// Its number within that producer's messages (0-based).
    pub seq: u64,
    /// When it was sent (or was due, on a timetable), in ns on [`crate::clock`].
    pub sent_ns: u64,
}

/// A body of exactly `size` bytes (at least [`HEADER_BYTES`]) carrying `header`.
pub fn encode(header: Header, size: usize) -> Vec<u8> {
    // Written digit by digit rather than with `format!`: the generator makes one body per
    // message and shares the cores with the servers it measures.
    let mut body = Vec::with_capacity(size.max(HEADER_BYTES));
    body.extend_from_slice(b"FC1:");
    push_digits(&mut body, u64::from(header.producer), 4);
    push_digits(&mut body, header.seq, 12);
    push_digits(&mut body, header.sent_ns, 20);
    debug_assert_eq!(body.len(), HEADER_BYTES);
    body.resize(size.max(HEADER_BYTES), b'.');
    body
}

/// Appends the last `width` decimal digits of `value`, zero-padded, and a `:`.
fn push_digits(out: &mut Vec<u8>, value: u64, width: usize) {
    let start = out.len();
    out.resize(start + width, b'0');
    let mut rest = value;
    for slot in out[start..].iter_mut().rev() {
        *slot = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out.push(b':');
}

/// The header of a body this tool wrote, `None` for anything else.
pub fn decode(body: &[u8]) -> Option<Header> {
    let head = body.get(..HEADER_BYTES)?;
    let text = std::str::from_utf8(head).ok()?;
    let mut fields = text.strip_prefix("FC1:")?.strip_suffix(':')?.split(':');
    let producer = fields.next()?.parse().ok()?;
    let seq = fields.next()?.parse().ok()?;
    let sent_ns = fields.next()?.parse().ok()?;
    if fields.next().is_some() {
        return None;
    }
    Some(Header {
        producer,
        seq,
        sent_ns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_at_the_requested_size() {
        let header = Header {
            producer: 3,
            seq: 99_999,
            sent_ns: 12_345_678_901,
        };
        let body = encode(header, 100);
        assert_eq!(body.len(), 100);
        assert_eq!(decode(&body), Some(header));
    }

    #[test]
    fn writes_the_documented_fixed_width_text() {
        let header = Header {
            producer: 12,
            seq: 345,
            sent_ns: u64::MAX,
        };
        let body = encode(header, HEADER_BYTES + 2);
        assert_eq!(
            body,
            b"FC1:0012:000000000345:18446744073709551615:..".to_vec()
        );
    }

    #[test]
    fn never_shorter_than_its_header() {
        let header = Header {
            producer: 0,
            seq: 0,
            sent_ns: 0,
        };
        assert_eq!(encode(header, 10).len(), HEADER_BYTES);
    }

    #[test]
    fn rejects_foreign_bodies() {
        assert_eq!(decode(b"hello"), None);
        let mut body = encode(
            Header {
                producer: 1,
                seq: 2,
                sent_ns: 3,
            },
            100,
        );
        body[0] = b'X';
        assert_eq!(decode(&body), None);
    }
}
