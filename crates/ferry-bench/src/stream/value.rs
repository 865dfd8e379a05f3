//! The value of every bench record: text that carries the record's number.
//!
//! Layout, all ASCII so that the server hands it back as `value` (text) rather than
//! `value_base64`, and so that JSON needs no escapes:
//!
//! | bytes | field |
//! | --- | --- |
//! | 0..4 | magic `FRS1` (refuses values this run did not write) |
//! | 4..20 | the record's number, 16 lowercase hex digits |
//! | 20.. | `.` up to `--record-bytes` |
//!
//! Numbers are global: the record appended as number `n` is the `n`-th of the run, whichever
//! producer sent it (see `Schedule::first_message`). The queue bench's binary header is not
//! reused here: as base64 it would cost a third more bytes and a decode per record on both
//! sides, and the read phase measures no end-to-end latency, so it needs no send time.

/// The first four bytes of every value.
const MAGIC: &str = "FRS1";
/// Hex digits of the record number.
const DIGITS: usize = 16;
/// The digits of the number, by value.
const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";
/// The filler after the number.
const PAD: u8 = b'.';

/// Size of the magic and the number; `--record-bytes` may not be smaller.
pub(crate) const VALUE_PREFIX_BYTES: usize = MAGIC.len() + DIGITS;

/// Why a value read back is not one this run wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BadValue {
    /// No text value (a tombstone, or bytes that are not UTF-8 and came as base64).
    NotText,
    /// Not `--record-bytes` long.
    Length,
    /// Does not start with the magic bytes.
    Magic,
    /// The number is not 16 lowercase hex digits.
    Number,
    /// The padding was changed.
    Padding,
}

/// The values of one run: all of one size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ValueFormat {
    /// The filler of every value, built once (writing copies it, reading compares with it).
    padding: String,
}

impl ValueFormat {
    /// The format of values of `record_bytes` (at least [`VALUE_PREFIX_BYTES`]).
    pub(crate) fn new(record_bytes: usize) -> ValueFormat {
        debug_assert!(
            record_bytes >= VALUE_PREFIX_BYTES,
            "{record_bytes} too small"
        );
        let pad = record_bytes.saturating_sub(VALUE_PREFIX_BYTES);
        ValueFormat {
            padding: char::from(PAD).to_string().repeat(pad),
        }
    }

    /// Replaces `value` with the value of record `number`, keeping its allocation.
    pub(crate) fn write(&self, number: u64, value: &mut String) {
        let mut digits = [b'0'; DIGITS];
        for (place, digit) in digits.iter_mut().rev().enumerate() {
            let nibble = (number >> (place * 4)) & 0xf;
            *digit = HEX_DIGITS.get(nibble as usize).copied().unwrap_or(b'?');
        }
        value.clear();
        value.push_str(MAGIC);
        // ASCII digits are valid UTF-8: the fallback is never taken.
        value.push_str(std::str::from_utf8(&digits).unwrap_or("????????????????"));
        value.push_str(&self.padding);
    }

    /// The number of the record whose value is `value` (`None` unless it came as text),
    /// checking it is exactly what [`ValueFormat::write`] makes.
    pub(crate) fn read(&self, value: Option<&str>) -> Result<u64, BadValue> {
        let bytes = value.ok_or(BadValue::NotText)?.as_bytes();
        if bytes.len() != VALUE_PREFIX_BYTES + self.padding.len() {
            return Err(BadValue::Length);
        }
        let (magic, rest) = bytes
            .split_at_checked(MAGIC.len())
            .ok_or(BadValue::Length)?;
        if magic != MAGIC.as_bytes() {
            return Err(BadValue::Magic);
        }
        let (digits, padding) = rest.split_at_checked(DIGITS).ok_or(BadValue::Length)?;
        let mut number = 0u64;
        for &digit in digits {
            let nibble = match digit {
                b'0'..=b'9' => digit - b'0',
                b'a'..=b'f' => digit - b'a' + 10,
                _ => return Err(BadValue::Number),
            };
            number = (number << 4) | u64::from(nibble);
        }
        if padding != self.padding.as_bytes() {
            return Err(BadValue::Padding);
        }
        Ok(number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(number: u64, size: usize) -> String {
        let mut value = String::new();
        ValueFormat::new(size).write(number, &mut value);
        value
    }

    fn read_number(value: Option<&str>, size: usize) -> Result<u64, BadValue> {
        ValueFormat::new(size).read(value)
    }

    #[test]
    fn values_round_trip_at_every_size() {
        for size in [VALUE_PREFIX_BYTES, 21, 100, 4096] {
            for number in [0, 1, 0xabc, 999_999, u64::MAX] {
                let v = value(number, size);
                assert_eq!(v.len(), size);
                assert_eq!(read_number(Some(&v), size), Ok(number), "{v}");
            }
        }
    }

    #[test]
    fn the_layout_is_fixed_ascii() {
        assert_eq!(value(0x1f, 24), "FRS1000000000000001f....");
        assert!(value(u64::MAX, 100).is_ascii());
    }

    #[test]
    fn a_buffer_is_reused_whatever_it_held() {
        let writer = ValueFormat::new(30);
        let mut buffer = "something else entirely, and longer than thirty".to_owned();
        writer.write(7, &mut buffer);
        assert_eq!(buffer, value(7, 30));
        writer.write(8, &mut buffer);
        assert_eq!(read_number(Some(&buffer), 30), Ok(8));
    }

    #[test]
    fn foreign_values_are_refused() {
        let good = value(5, 32);
        assert_eq!(read_number(None, 32), Err(BadValue::NotText));
        assert_eq!(read_number(Some(&good), 33), Err(BadValue::Length));
        assert_eq!(read_number(Some(""), 32), Err(BadValue::Length));
        let swap = |at: usize, with: &str| {
            let mut v = good.clone();
            v.replace_range(at..at + 1, with);
            read_number(Some(&v), 32)
        };
        assert_eq!(swap(0, "X"), Err(BadValue::Magic));
        assert_eq!(swap(10, "g"), Err(BadValue::Number));
        assert_eq!(swap(10, "A"), Err(BadValue::Number), "lowercase only");
        assert_eq!(swap(31, "x"), Err(BadValue::Padding));
        assert_eq!(swap(19, "6"), Ok(6), "another number is still well formed");
    }
}
