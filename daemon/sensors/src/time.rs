//! ISO-8601 timestamp parsing shared by every parser.
//!
//! Sensors write their times in several shapes: Cowrie with `Z`, Suricata with `+0200`
//! (no colon), CIC-IDS2017 with a space instead of `T`, Dionaea and Tanner without any zone.
//! [`parse_timestamp`] reads all of them without allocating; it runs once per event on the
//! hot path. [`local_to_utc`] is the one rule for times written without offset, shared with
//! the CIC-IDS2017 cell reader, so that a local time means one instant in every format.

use chrono::{
    DateTime, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta,
    TimeZone, Utc,
};
use chrono_tz::Tz;

use crate::format::RejectReason;

/// A timestamp that could not be read; the message names the text and what was wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("timestamp {text:?} is not a valid ISO-8601 time: {problem}")]
pub struct TimestampError {
    /// The text as it was given.
    pub text: String,
    /// What is wrong with it.
    pub problem: &'static str,
}

impl TimestampError {
    fn new(text: &str, problem: &'static str) -> TimestampError {
        TimestampError {
            text: text.to_string(),
            problem,
        }
    }

    /// The rejection reason a parser reports for this error.
    pub fn reject_reason(&self) -> RejectReason {
        RejectReason::InvalidTimestamp
    }
}

/// Parses an ISO-8601 date-time into UTC.
///
/// Accepted: `YYYY-MM-DD`, then `T`, `t` or a space, then `HH:MM:SS`, optional fractional
/// seconds (`.` or `,`, any number of digits, kept to the nanosecond), then an optional zone:
/// `Z`, `+hh:mm`, `+hhmm` or `+hh`. A time without zone is local time in `naive_zone`, read
/// by [`local_to_utc`] (which says what happens when clocks change).
///
/// ```
/// use vigil_sensors::time::parse_timestamp;
/// let utc = chrono_tz::UTC;
/// let a = parse_timestamp("2023-02-28T11:34:02.133169+0000", utc).unwrap();
/// let b = parse_timestamp("2023-02-28 12:34:02.133169+01:00", utc).unwrap();
/// let c = parse_timestamp("2023-02-28T06:34:02.133169", chrono_tz::America::New_York).unwrap();
/// assert_eq!(a, b);
/// assert_eq!(a, c);
/// assert!(parse_timestamp("2023-02-30T00:00:00Z", utc).is_err());
/// ```
///
/// # Errors
/// [`TimestampError`] naming the text when it is not of that shape or names an impossible
/// date or time (February 30th, 25:00, an offset of +24:00...).
pub fn parse_timestamp(text: &str, naive_zone: Tz) -> Result<DateTime<Utc>, TimestampError> {
    let bytes = text.as_bytes();
    let (naive, rest) = parse_naive(bytes).map_err(|problem| TimestampError::new(text, problem))?;
    match rest {
        [] => Ok(local_to_utc(naive, naive_zone)
            .ok_or_else(|| TimestampError::new(text, "out of the supported date range"))?),
        [b'Z' | b'z'] => Ok(naive.and_utc()),
        [sign @ (b'+' | b'-'), offset @ ..] => {
            let seconds = parse_offset(offset).map_err(|p| TimestampError::new(text, p))?;
            let east = if *sign == b'-' { -seconds } else { seconds };
            let fixed = FixedOffset::east_opt(east)
                .ok_or_else(|| TimestampError::new(text, "zone offset out of range"))?;
            naive
                .checked_sub_signed(TimeDelta::seconds(i64::from(fixed.local_minus_utc())))
                .map(|utc| utc.and_utc())
                .ok_or_else(|| TimestampError::new(text, "out of the supported date range"))
        }
        _ => Err(TimestampError::new(
            text,
            "unexpected text after the time (expected Z, +hh:mm, +hhmm or nothing)",
        )),
    }
}

/// Reads `YYYY-MM-DD[T ]HH:MM:SS[.fraction]` and returns the rest (the zone, if any).
fn parse_naive(bytes: &[u8]) -> Result<(NaiveDateTime, &[u8]), &'static str> {
    if bytes.len() < 19 {
        return Err("too short for YYYY-MM-DDTHH:MM:SS");
    }
    let year = digits(&bytes[0..4]).ok_or("year is not 4 digits")?;
    if bytes[4] != b'-' || bytes[7] != b'-' {
        return Err("date is not YYYY-MM-DD");
    }
    let month = digits(&bytes[5..7]).ok_or("month is not 2 digits")?;
    let day = digits(&bytes[8..10]).ok_or("day is not 2 digits")?;
    if !matches!(bytes[10], b'T' | b't' | b' ') {
        return Err("date and time are not separated by T or a space");
    }
    let hour = digits(&bytes[11..13]).ok_or("hour is not 2 digits")?;
    if bytes[13] != b':' || bytes[16] != b':' {
        return Err("time is not HH:MM:SS");
    }
    let minute = digits(&bytes[14..16]).ok_or("minute is not 2 digits")?;
    let second = digits(&bytes[17..19]).ok_or("second is not 2 digits")?;

    let mut rest = &bytes[19..];
    let mut nanos: u32 = 0;
    if let [b'.' | b',', fraction @ ..] = rest {
        let count = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
        if count == 0 {
            return Err("no digits after the decimal point");
        }
        // Digits past the ninth are below a nanosecond: read, then dropped.
        let mut scale = 100_000_000;
        for &d in &fraction[..count.min(9)] {
            nanos += u32::from(d - b'0') * scale;
            scale /= 10;
        }
        rest = &fraction[count..];
    }

    let date = NaiveDate::from_ymd_opt(year as i32, month, day).ok_or("no such date")?;
    // A leap second (:60) is carried as chrono does: second 59 plus one extra second of nanos.
    let time = if second == 60 {
        NaiveTime::from_hms_nano_opt(hour, minute, 59, nanos + 1_000_000_000)
    } else {
        NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)
    }
    .ok_or("no such time of day")?;
    Ok((NaiveDateTime::new(date, time), rest))
}

/// Reads `hh:mm`, `hhmm` or `hh` into seconds.
fn parse_offset(offset: &[u8]) -> Result<i32, &'static str> {
    let (hours, minutes) = match offset {
        [h1, h2] => (digits(&[*h1, *h2]), Some(0)),
        [h1, h2, m1, m2] => (digits(&[*h1, *h2]), digits(&[*m1, *m2])),
        [h1, h2, b':', m1, m2] => (digits(&[*h1, *h2]), digits(&[*m1, *m2])),
        _ => return Err("zone offset is not +hh:mm, +hhmm or +hh"),
    };
    match (hours, minutes) {
        (Some(h), Some(m)) if h < 24 && m < 60 => Ok((h * 3600 + m * 60) as i32),
        _ => Err("zone offset hours or minutes out of range"),
    }
}

fn digits(bytes: &[u8]) -> Option<u32> {
    let mut value = 0u32;
    for &b in bytes {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u32::from(b - b'0');
    }
    Some(value)
}

/// The instant a local time without offset stands for in `zone`: the one rule for naive
/// times in every format (JSON logs and CIC-IDS2017 cells alike), so that one local time is
/// one instant whichever sensor wrote it.
///
/// When clocks change, a local time maps to two instants or to none:
///
/// * a local time that happens twice (clocks turned back) is its **first** occurrence, the
///   one with the offset in force before the change;
/// * a local time that never happens (clocks turned forward) is read with the **offset in
///   force before the change**, as if the clock had not been turned yet: 02:30 on a night
///   when 02:00 becomes 03:00 is the instant that is 03:30 on the turned clock.
///
/// Both halves read the time as the clock showed it before the change, which is what a
/// logger that is late to apply it writes; they are also the rule of RFC 5545, `java.time`
/// and Python's `fold=0`.
///
/// `None` only at the edges of chrono's date range.
///
/// ```
/// use chrono::NaiveDate;
/// use vigil_sensors::time::local_to_utc;
/// let berlin = chrono_tz::Europe::Berlin;
/// let at = |d, h, m| NaiveDate::from_ymd_opt(2017, 3, d)?.and_hms_opt(h, m, 0);
/// // 2017-03-26 02:30 does not exist in Berlin: read at +01:00, the offset before the change.
/// let skipped = local_to_utc(at(26, 2, 30).unwrap(), berlin).unwrap();
/// assert_eq!(skipped.to_rfc3339(), "2017-03-26T01:30:00+00:00");
/// // 2017-10-29 02:30 happens twice: the first time, still at +02:00.
/// let twice = NaiveDate::from_ymd_opt(2017, 10, 29).unwrap().and_hms_opt(2, 30, 0).unwrap();
/// assert_eq!(local_to_utc(twice, berlin).unwrap().to_rfc3339(), "2017-10-29T00:30:00+00:00");
/// ```
pub fn local_to_utc(naive: NaiveDateTime, zone: Tz) -> Option<DateTime<Utc>> {
    if zone == chrono_tz::UTC {
        return Some(naive.and_utc());
    }
    match zone.from_local_datetime(&naive) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => Some(a.with_timezone(&Utc).min(b.with_timezone(&Utc))),
        LocalResult::None => {
            // The offset a day earlier is the one before the change: zone rules never change
            // twice within two days.
            let day_before = naive.checked_sub_signed(TimeDelta::days(1))?;
            let offset_before = zone.offset_from_utc_datetime(&day_before).fix();
            naive
                .checked_sub_signed(TimeDelta::seconds(i64::from(
                    offset_before.local_minus_utc(),
                )))
                .map(|utc| utc.and_utc())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Timelike;

    fn utc(text: &str) -> DateTime<Utc> {
        match DateTime::parse_from_rfc3339(text) {
            Ok(t) => t.with_timezone(&Utc),
            Err(e) => panic!("bad reference time {text}: {e}"),
        }
    }

    #[test]
    fn zulu_with_microseconds() {
        let t = parse_timestamp("2022-06-01T14:33:54.902527Z", chrono_tz::UTC);
        assert_eq!(t, Ok(utc("2022-06-01T14:33:54.902527Z")));
    }

    #[test]
    fn offsets_without_colon_with_colon_and_hours_only() {
        let reference = utc("2025-10-18T01:56:35.088539Z");
        for text in [
            "2025-10-18T03:56:35.088539+0200",
            "2025-10-18T03:56:35.088539+02:00",
            "2025-10-18T03:56:35.088539+02",
            "2025-10-17T20:56:35.088539-0500",
            "2025-10-18T01:56:35.088539+0000",
        ] {
            assert_eq!(
                parse_timestamp(text, chrono_tz::UTC),
                Ok(reference),
                "{text}"
            );
        }
    }

    #[test]
    fn space_separator_and_no_fraction() {
        let t = parse_timestamp("2017-07-07 12:59:21", chrono_tz::UTC);
        assert_eq!(t, Ok(utc("2017-07-07T12:59:21Z")));
    }

    #[test]
    fn fraction_longer_than_nanoseconds_is_cut() {
        let t = parse_timestamp("2017-07-07T12:59:21.1234567891234Z", chrono_tz::UTC);
        assert_eq!(t.map(|t| t.nanosecond()), Ok(123_456_789));
    }

    #[test]
    fn naive_in_a_non_utc_zone() {
        // Berlin is UTC+2 in summer, UTC+1 in winter.
        let berlin = chrono_tz::Europe::Berlin;
        assert_eq!(
            parse_timestamp("2022-05-31T07:12:55.524838", berlin),
            Ok(utc("2022-05-31T05:12:55.524838Z"))
        );
        assert_eq!(
            parse_timestamp("2022-01-31T07:12:55", berlin),
            Ok(utc("2022-01-31T06:12:55Z"))
        );
    }

    #[test]
    fn repeated_autumn_hour_takes_the_earliest_instant() {
        // 2025-10-26 02:30 happens twice in Berlin: at 00:30Z (CEST) and 01:30Z (CET).
        let t = parse_timestamp("2025-10-26T02:30:00", chrono_tz::Europe::Berlin);
        assert_eq!(t, Ok(utc("2025-10-26T00:30:00Z")));
    }

    #[test]
    fn skipped_spring_hour_does_not_fail() {
        // 2025-03-30 02:30 does not exist in Berlin; the candidates are 00:30Z (+02:00, the
        // offset after the change) and 01:30Z (+01:00, the offset before it): the latter.
        let t = parse_timestamp("2025-03-30T02:30:00", chrono_tz::Europe::Berlin);
        assert_eq!(t, Ok(utc("2025-03-30T01:30:00Z")));
    }

    #[test]
    fn leap_second_is_kept() {
        let t = parse_timestamp("2016-12-31T23:59:60Z", chrono_tz::UTC);
        assert!(t.is_ok_and(|t| t.second() == 59 && t.nanosecond() == 1_000_000_000));
    }

    #[test]
    fn impossible_or_garbled_times_name_the_text() {
        for text in [
            "",
            "2023-02-30T00:00:00Z",
            "2023-02-28T24:00:00Z",
            "2023-02-28T11:34:02+2400",
            "2023-02-28T11:34:02+02:7",
            "2023-02-28T11:34:02 UTC",
            "2023-02-28T11:34:02.Z",
            "2023/02/28 11:34:02",
            "28-02-2023T11:34:02",
            "not a time at all, clearly",
            "1677584042",
        ] {
            match parse_timestamp(text, chrono_tz::UTC) {
                Ok(t) => panic!("{text:?} parsed as {t}"),
                Err(e) => {
                    assert_eq!(e.text, text);
                    assert!(e.to_string().contains(&format!("{text:?}")));
                }
            }
        }
    }
}
