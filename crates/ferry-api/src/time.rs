//! RFC 3339 times on the wire: UTC, millisecond precision, e.g. `2025-01-31T09:30:00.250Z`.
//!
//! Written out by hand (no date crate): the only calendar needed is the proleptic Gregorian one
//! between the years 0000 and 9999 that RFC 3339 can express.

use ferry_core::Timestamp;
use std::cell::Cell;

const MS_PER_SECOND: i64 = 1_000;
const MS_PER_MINUTE: i64 = 60 * MS_PER_SECOND;
const MS_PER_HOUR: i64 = 60 * MS_PER_MINUTE;
const MS_PER_DAY: i64 = 24 * MS_PER_HOUR;

/// The latest instant RFC 3339 can write: `9999-12-31T23:59:59.999Z`. Later timestamps (such
/// as [`Timestamp::NEVER`]) are written as this one.
pub const MAX_RFC3339_MS: u64 = 253_402_300_799_999;

/// Why a string is not an RFC 3339 time.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid RFC 3339 time {input:?}: {reason} (expected e.g. 2025-01-31T09:30:00.250Z)")]
pub struct TimeError {
    /// The text as given (cut to a readable length).
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Bytes of an RFC 3339 time as Ferry writes it: `YYYY-MM-DDTHH:MM:SS.mmmZ`.
const RFC3339_BYTES: usize = 24;

/// Writes `t` as RFC 3339 in UTC with milliseconds; instants after the year 9999 are clamped.
pub fn format_rfc3339(t: Timestamp) -> String {
    rfc3339_str(&rfc3339_bytes(t)).to_owned()
}

thread_local! {
    /// The last time this thread formatted, and its text: the records of a batch and the
    /// messages of a send share their millisecond, so most times are a repeat.
    static LAST_FORMATTED: Cell<(u64, [u8; RFC3339_BYTES])> =
        const { Cell::new((u64::MAX, [0; RFC3339_BYTES])) };
}

/// The text of `t` in a stack buffer: serializing a time allocates nothing (one is written
/// per record read and two per message delivered).
fn rfc3339_bytes(t: Timestamp) -> [u8; RFC3339_BYTES] {
    let ms = t.as_millis().min(MAX_RFC3339_MS);
    let (last_ms, last) = LAST_FORMATTED.get();
    if last_ms == ms {
        return last;
    }
    let text = format_ms(ms);
    LAST_FORMATTED.set((ms, text));
    text
}

/// `ms` (at most [`MAX_RFC3339_MS`]) as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn format_ms(ms: u64) -> [u8; RFC3339_BYTES] {
    let ms = i64::try_from(ms).unwrap_or(0);
    let days = ms.div_euclid(MS_PER_DAY);
    let in_day = ms.rem_euclid(MS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let fields = [
        (year, 4, b'-'),
        (month, 2, b'-'),
        (day, 2, b'T'),
        (in_day / MS_PER_HOUR, 2, b':'),
        (in_day % MS_PER_HOUR / MS_PER_MINUTE, 2, b':'),
        (in_day % MS_PER_MINUTE / MS_PER_SECOND, 2, b'.'),
        (in_day % MS_PER_SECOND, 3, b'Z'),
    ];
    let mut out = [0u8; RFC3339_BYTES];
    let mut at = 0;
    for (value, width, separator) in fields {
        // Digits from the last: a division by the constant 10 is a multiplication.
        let mut rest = value;
        for place in (0..width).rev() {
            if let Some(slot) = out.get_mut(at + place) {
                *slot = b'0' + u8::try_from(rest % 10).unwrap_or(0);
            }
            rest /= 10;
        }
        at += width;
        if let Some(slot) = out.get_mut(at) {
            *slot = separator;
        }
        at += 1;
    }
    debug_assert_eq!(at, RFC3339_BYTES);
    out
}

/// The buffer as text (it is ASCII by construction).
fn rfc3339_str(bytes: &[u8; RFC3339_BYTES]) -> &str {
    std::str::from_utf8(bytes).unwrap_or_default()
}

/// Reads an RFC 3339 time (`Z` or a `±hh:mm` offset; any number of fraction digits, cut to
/// milliseconds). Instants before 1970 become [`Timestamp::ZERO`].
///
/// # Errors
/// [`TimeError`] naming what is malformed or out of range.
pub fn parse_rfc3339(s: &str) -> Result<Timestamp, TimeError> {
    let refuse = |reason| TimeError {
        input: s.chars().take(64).collect(),
        reason,
    };
    let mut p = Cursor { rest: s.as_bytes() };
    let year = p
        .digits(4)
        .ok_or_else(|| refuse("the year must be 4 digits"))?;
    p.expect(b"-")
        .ok_or_else(|| refuse("expected '-' after the year"))?;
    let month = p
        .digits(2)
        .ok_or_else(|| refuse("the month must be 2 digits"))?;
    p.expect(b"-")
        .ok_or_else(|| refuse("expected '-' after the month"))?;
    let day = p
        .digits(2)
        .ok_or_else(|| refuse("the day must be 2 digits"))?;
    p.expect(b"Tt ")
        .ok_or_else(|| refuse("expected 'T' between date and time"))?;
    let hour = p
        .digits(2)
        .ok_or_else(|| refuse("the hour must be 2 digits"))?;
    p.expect(b":")
        .ok_or_else(|| refuse("expected ':' after the hour"))?;
    let minute = p
        .digits(2)
        .ok_or_else(|| refuse("the minute must be 2 digits"))?;
    p.expect(b":")
        .ok_or_else(|| refuse("expected ':' after the minute"))?;
    let second = p
        .digits(2)
        .ok_or_else(|| refuse("the second must be 2 digits"))?;
    let millis = p
        .fraction_ms()
        .ok_or_else(|| refuse("a '.' must be followed by digits"))?;
    let offset_ms = p
        .offset_ms()
        .ok_or_else(|| refuse("expected 'Z' or an offset like +02:00"))?;
    if !p.rest.is_empty() {
        return Err(refuse("unexpected text after the time"));
    }
    if !(1..=12).contains(&month) {
        return Err(refuse("the month must be 01 to 12"));
    }
    if day < 1 || day > days_in_month(year, month) {
        return Err(refuse("the day does not exist in that month"));
    }
    if hour > 23 || minute > 59 || second > 60 {
        return Err(refuse("the time of day is out of range"));
    }
    let days = days_from_civil(year, month, day);
    let ms = days * MS_PER_DAY
        + hour * MS_PER_HOUR
        + minute * MS_PER_MINUTE
        + second * MS_PER_SECOND
        + millis
        - offset_ms;
    Ok(Timestamp(u64::try_from(ms).unwrap_or(0)))
}

/// A forward-only reader over the bytes of a time string.
struct Cursor<'a> {
    rest: &'a [u8],
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize) -> Option<i64> {
        let (head, tail) = self.rest.split_at_checked(n)?;
        if !head.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.rest = tail;
        Some(head.iter().fold(0, |acc, b| acc * 10 + i64::from(b - b'0')))
    }

    fn expect(&mut self, any_of: &[u8]) -> Option<()> {
        let (first, tail) = self.rest.split_first()?;
        if !any_of.contains(first) {
            return None;
        }
        self.rest = tail;
        Some(())
    }

    /// The milliseconds of an optional `.fraction`.
    fn fraction_ms(&mut self) -> Option<i64> {
        if self.expect(b".").is_none() {
            return Some(0);
        }
        let len = self.rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if len == 0 {
            return None;
        }
        let (digits, tail) = self.rest.split_at_checked(len)?;
        self.rest = tail;
        let ms = digits
            .iter()
            .chain(std::iter::repeat(&b'0'))
            .take(3)
            .fold(0, |acc, b| acc * 10 + i64::from(b - b'0'));
        Some(ms)
    }

    /// The offset from UTC, in milliseconds (positive east of Greenwich).
    fn offset_ms(&mut self) -> Option<i64> {
        if self.expect(b"Zz").is_some() {
            return Some(0);
        }
        let sign = match self.rest.first()? {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        self.rest = self.rest.get(1..)?;
        let hours = self.digits(2)?;
        self.expect(b":")?;
        let minutes = self.digits(2)?;
        if hours > 23 || minutes > 59 {
            return None;
        }
        Some(sign * (hours * MS_PER_HOUR + minutes * MS_PER_MINUTE))
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a date, counting years in 400-year eras that start on 1 March (so
/// that the leap day ends a year).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Serde adapter for `Timestamp` fields that travel as RFC 3339 strings.
pub mod rfc3339 {
    use super::parse_rfc3339;
    use ferry_core::Timestamp;
    use serde::{Deserializer, Serializer};

    /// Writes the timestamp as an RFC 3339 string.
    ///
    /// # Errors
    /// Only those of the serializer.
    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(super::rfc3339_str(&super::rfc3339_bytes(*t)))
    }

    /// Reads an RFC 3339 string.
    ///
    /// # Errors
    /// When the value is not a string or not a valid time.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        crate::text::parse_str(d, "an RFC 3339 time", parse_rfc3339)
    }

    /// The same for `Option<Timestamp>` (use with `default` and `skip_serializing_if`).
    pub mod option {
        use super::parse_rfc3339;
        use ferry_core::Timestamp;
        use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

        /// Writes the timestamp, if any, as an RFC 3339 string.
        ///
        /// # Errors
        /// Only those of the serializer.
        pub fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => {
                    s.serialize_some(super::super::rfc3339_str(&super::super::rfc3339_bytes(*t)))
                }
                None => s.serialize_none(),
            }
        }

        /// Reads an optional RFC 3339 string (`null` is `None`).
        ///
        /// # Errors
        /// When the value is neither null nor a valid time string.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
            let s = <Option<std::borrow::Cow<'de, str>>>::deserialize(d)?;
            s.map(|s| parse_rfc3339(&s).map_err(D::Error::custom))
                .transpose()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> u64 {
        parse_rfc3339(s)
            .unwrap_or_else(|e| panic!("{e}"))
            .as_millis()
    }

    #[test]
    fn formats_utc_with_milliseconds() {
        assert_eq!(format_rfc3339(Timestamp(0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_rfc3339(Timestamp(951_782_400_123)),
            "2000-02-29T00:00:00.123Z"
        );
        assert_eq!(
            format_rfc3339(Timestamp(1_738_315_800_250)),
            "2025-01-31T09:30:00.250Z"
        );
        assert_eq!(format_rfc3339(Timestamp::NEVER), "9999-12-31T23:59:59.999Z");
        assert_eq!(
            format_rfc3339(Timestamp(MAX_RFC3339_MS)),
            "9999-12-31T23:59:59.999Z"
        );
    }

    #[test]
    fn a_repeated_time_comes_from_the_cache_and_a_new_one_does_not() {
        let (a, b) = (Timestamp(1_000), Timestamp(2_000));
        for _ in 0..2 {
            assert_eq!(format_rfc3339(a), "1970-01-01T00:00:01.000Z");
            assert_eq!(format_rfc3339(a), "1970-01-01T00:00:01.000Z");
            assert_eq!(format_rfc3339(b), "1970-01-01T00:00:02.000Z");
        }
    }

    #[test]
    fn parses_what_it_formats() {
        for ms in [
            0,
            1,
            999,
            86_399_999,
            951_782_400_123,
            1_738_315_800_250,
            4_102_444_800_000,
            MAX_RFC3339_MS,
        ] {
            assert_eq!(parse(&format_rfc3339(Timestamp(ms))), ms, "{ms}");
        }
        // Every day boundary over a few leap cycles.
        for day in 0..(366 * 9) {
            let ms = day * 86_400_000 + 11_045_000;
            assert_eq!(parse(&format_rfc3339(Timestamp(ms))), ms);
        }
    }

    #[test]
    fn parses_offsets_fractions_and_lowercase() {
        assert_eq!(parse("2025-01-31T11:30:00.250+02:00"), 1_738_315_800_250);
        assert_eq!(parse("2025-01-31T04:00:00.25-05:30"), 1_738_315_800_250);
        assert_eq!(parse("2025-01-31t09:30:00.250999z"), 1_738_315_800_250);
        assert_eq!(parse("2025-01-31 09:30:00Z"), 1_738_315_800_000);
        assert_eq!(parse("1969-12-31T23:59:59Z"), 0);
    }

    #[test]
    fn refuses_malformed_times_with_a_reason() {
        for bad in [
            "",
            "2025",
            "2025-01-31",
            "2025-01-31T09:30:00",
            "2025-1-31T09:30:00Z",
            "2025-13-01T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2025-04-31T00:00:00Z",
            "2025-01-31T24:00:00Z",
            "2025-01-31T09:60:00Z",
            "2025-01-31T09:30:00.Z",
            "2025-01-31T09:30:00+2:00",
            "2025-01-31T09:30:00Zjunk",
            "２０２５-01-31T09:30:00Z",
            "1738315800250",
        ] {
            let err = parse_rfc3339(bad).err();
            assert!(err.is_some(), "{bad:?} was accepted");
        }
        let err = parse_rfc3339("2025-02-30T00:00:00Z")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("the day does not exist in that month"),
            "{err}"
        );
    }
}
