//! Turning single CSV cells into numbers, counts, addresses, ports and times.

use std::net::IpAddr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};

use super::csv::Cells;
use super::error::{RowError, excerpt};

/// What a positive infinity in a numeric column becomes in [`crate::Event::numeric`]
/// (a negative infinity becomes its negation).
///
/// CICFlowMeter writes `Infinity` for rates over a zero-length flow (bytes / 0 s). A true
/// infinity would poison every mean, variance and distance downstream, so it is replaced by
/// a finite value far above any real rate (CIC-IDS2017 rates stay below about 1e10 per
/// second) yet small enough that sums and squares over millions of rows stay finite.
pub const INFINITE_FEATURE_VALUE: f64 = 1.0e12;

/// What a `NaN` in a numeric column becomes in [`crate::Event::numeric`].
///
/// CICFlowMeter writes `NaN` for 0 / 0 rates (no bytes over a zero-length flow), where the
/// honest rate is zero.
pub const NAN_FEATURE_VALUE: f64 = 0.0;

/// Largest count (bytes, packets) accepted: counts travel as `f64`, exact up to 2^53.
const MAX_EXACT_COUNT: f64 = 9_007_199_254_740_992.0;

/// Parses a numeric cell as `f64`; `Infinity`, `inf` and `NaN` (any case, any sign) are
/// accepted here and made finite by [`finite_feature`].
pub(crate) fn number(column: &str, cell: &str) -> Result<f64, RowError> {
    if cell.is_empty() {
        return Err(RowError::number(
            column,
            cell,
            "is empty, expected a number",
        ));
    }
    cell.parse::<f64>()
        .map_err(|_| RowError::number(column, cell, "is not a number"))
}

/// The value stored in [`crate::Event::numeric`] for a parsed cell: always finite.
pub(crate) fn finite_feature(value: f64) -> f64 {
    if value.is_nan() {
        NAN_FEATURE_VALUE
    } else if value.is_infinite() {
        INFINITE_FEATURE_VALUE.copysign(value)
    } else {
        value
    }
}

/// A byte or packet count: finite, not negative, whole.
pub(crate) fn count(column: &str, value: f64, cell: &str) -> Result<u64, RowError> {
    if !value.is_finite() {
        return Err(RowError::number(column, cell, "is not a finite count"));
    }
    if value < 0.0 {
        return Err(RowError::number(column, cell, "is a negative count"));
    }
    if value.fract() != 0.0 {
        return Err(RowError::number(column, cell, "is not a whole count"));
    }
    if value > MAX_EXACT_COUNT {
        return Err(RowError::number(column, cell, "is too large for a count"));
    }
    // Whole, non-negative and at most 2^53, so the conversion is exact.
    Ok(value as u64)
}

/// A duration in seconds: finite and not negative.
pub(crate) fn duration_secs(column: &str, seconds: f64, cell: &str) -> Result<f64, RowError> {
    if !seconds.is_finite() {
        return Err(RowError::number(column, cell, "is not a finite duration"));
    }
    if seconds < 0.0 {
        return Err(RowError::number(column, cell, "is a negative duration"));
    }
    Ok(seconds)
}

/// An IPv4 or IPv6 address read as [`crate::net::parse_ip`] reads those of the JSON logs
/// (zone suffix dropped, IPv4-mapped IPv6 made IPv4), so that one host has one address
/// whichever format reported it.
pub(crate) fn ip(column: &str, cell: &str) -> Result<IpAddr, RowError> {
    crate::net::parse_ip(cell).map_err(|_| RowError::InvalidIp {
        column: column.to_string(),
        value: excerpt(cell),
    })
}

/// A port number in 0..=65535.
pub(crate) fn port(column: &str, cell: &str) -> Result<u16, RowError> {
    cell.parse::<u16>().map_err(|_| {
        let all_digits = !cell.is_empty() && cell.bytes().all(|b| b.is_ascii_digit());
        RowError::InvalidPort {
            column: column.to_string(),
            value: excerpt(cell),
            problem: if all_digits {
                "is above 65535"
            } else {
                "is not a number"
            },
        }
    })
}

/// The `units_per_second` of [`Numbers::duration_secs`] for a column written in seconds.
pub(crate) const IN_SECONDS: f64 = 1.0;

/// The numeric cells of one row, parsed, with the column names that errors quote.
pub(crate) struct Numbers<'r, N> {
    names: &'r [N],
    positions: &'r [usize],
    cells: &'r Cells<'r>,
    values: &'r [f64],
}

impl<'r, N: AsRef<str>> Numbers<'r, N> {
    /// Parses the cells at `positions` of `cells`, named `names` in the same order, into
    /// `values` (cleared first); the first cell that is not a number rejects the row.
    pub(crate) fn parse(
        names: &'r [N],
        positions: &'r [usize],
        cells: &'r Cells<'r>,
        values: &'r mut Vec<f64>,
    ) -> Result<Numbers<'r, N>, RowError> {
        values.clear();
        for (name, &position) in names.iter().zip(positions) {
            values.push(number(name.as_ref(), cells.get(position))?);
        }
        Ok(Numbers {
            names,
            positions,
            cells,
            values,
        })
    }

    /// The text of the `index`-th numeric cell.
    pub(crate) fn cell(&self, index: usize) -> &'r str {
        self.cells.get(self.positions[index])
    }

    /// The `index`-th numeric cell as a byte or packet count.
    pub(crate) fn count(&self, index: usize) -> Result<u64, RowError> {
        count(
            self.names[index].as_ref(),
            self.values[index],
            self.cell(index),
        )
    }

    /// The `index`-th numeric cell, a duration in units of which `units_per_second` make a
    /// second, in seconds.
    pub(crate) fn duration_secs(
        &self,
        index: usize,
        units_per_second: f64,
    ) -> Result<f64, RowError> {
        duration_secs(
            self.names[index].as_ref(),
            self.values[index] / units_per_second,
            self.cell(index),
        )
    }

    /// The values for [`crate::Event::numeric`], all finite.
    pub(crate) fn features(&self) -> Vec<f64> {
        self.values.iter().copied().map(finite_feature).collect()
    }
}

/// Event time of the `row_index`-th data row of a dataset without timestamps.
///
/// Saturates at the latest representable time rather than failing: only absurd options
/// (a start near year 262143 or a gigantic interval) get there.
pub(crate) fn row_time(
    start: DateTime<Utc>,
    row_index: u64,
    interval_micros: u64,
) -> DateTime<Utc> {
    let micros = i64::try_from(row_index.saturating_mul(interval_micros)).unwrap_or(i64::MAX);
    start
        .checked_add_signed(TimeDelta::microseconds(micros))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Parses `YYYY-MM-DD HH:MM:SS[.fraction]` (or with `T`) as local time in `zone`, or an
/// RFC 3339 time with its own offset.
///
/// Local times are read by [`crate::time::local_to_utc`], as in the JSON logs, also when
/// clocks change.
pub(crate) fn timestamp(
    column: &str,
    cell: &str,
    zone: chrono_tz::Tz,
) -> Result<DateTime<Utc>, RowError> {
    let invalid = |problem: &'static str| RowError::InvalidTimestamp {
        column: column.to_string(),
        value: excerpt(cell),
        problem,
    };
    let naive = match naive_datetime(cell.as_bytes()) {
        Some(naive) => naive,
        None => {
            return DateTime::parse_from_rfc3339(cell)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| invalid("is not YYYY-MM-DD HH:MM:SS[.ffffff]"));
        }
    };
    crate::time::local_to_utc(naive, zone).ok_or_else(|| invalid("is out of range"))
}

/// The fixed layout `YYYY-MM-DD[ T]HH:MM:SS[.d{1,9}]`, parsed by hand because it is on the
/// per-row path of CIC-IDS2017 files (millions of rows in the full dataset).
fn naive_datetime(text: &[u8]) -> Option<NaiveDateTime> {
    if text.len() < 19
        || text[4] != b'-'
        || text[7] != b'-'
        || !matches!(text[10], b' ' | b'T')
        || text[13] != b':'
        || text[16] != b':'
    {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        text.get(range)?.iter().try_fold(0u32, |acc, &b| {
            b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
        })
    };
    let year = i32::try_from(digits(0..4)?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, digits(5..7)?, digits(8..10)?)?;
    let nanos = match &text[19..] {
        [] => 0,
        [b'.', fraction @ ..] if (1..=9).contains(&fraction.len()) => {
            let value = digits(20..text.len())?;
            let scale = 10u32.pow(u32::try_from(9 - fraction.len()).ok()?);
            value * scale
        }
        _ => return None,
    };
    date.and_hms_nano_opt(digits(11..13)?, digits(14..16)?, digits(17..19)?, nanos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveTime;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn non_finite_numbers_parse_and_become_finite_features() {
        for (cell, expected) in [
            ("Infinity", INFINITE_FEATURE_VALUE),
            ("inf", INFINITE_FEATURE_VALUE),
            ("-Infinity", -INFINITE_FEATURE_VALUE),
            ("NaN", NAN_FEATURE_VALUE),
            ("nan", NAN_FEATURE_VALUE),
            ("1e400", INFINITE_FEATURE_VALUE),
            ("-2.5", -2.5),
        ] {
            let parsed = number("Flow Bytes/s", cell).unwrap();
            assert_eq!(finite_feature(parsed), expected, "{cell}");
        }
        assert!(number("x", "").is_err());
        assert!(number("x", "1,5").is_err());
        assert!(number("x", "0x10").is_err());
    }

    #[test]
    fn counts_must_be_whole_finite_and_not_negative() {
        assert_eq!(count("sbytes", 496.0, "496").unwrap(), 496);
        assert_eq!(count("sbytes", 2.0, "2.0").unwrap(), 2);
        for (value, cell) in [
            (-1.0, "-1"),
            (1.5, "1.5"),
            (f64::INFINITY, "Infinity"),
            (f64::NAN, "NaN"),
            (1e300, "1e300"),
        ] {
            let err = count("sbytes", value, cell).unwrap_err();
            assert!(err.to_string().contains(cell), "{err}");
        }
    }

    #[test]
    fn ports_and_addresses_are_strict() {
        assert_eq!(port("Src Port", "65535").unwrap(), 65535);
        let err = port("Src Port", "70000").unwrap_err();
        assert_eq!(
            err.to_string(),
            "column Src Port: port \"70000\" is above 65535"
        );
        assert!(
            port("Src Port", "-1")
                .unwrap_err()
                .to_string()
                .contains("not a number")
        );
        assert!(ip("Src IP", "192.168.10.5").is_ok());
        assert!(ip("Src IP", "2001:db8::1").is_ok());
        assert_eq!(
            ip("Src IP", "::ffff:10.0.0.1").unwrap(),
            IpAddr::from([10, 0, 0, 1])
        );
        assert_eq!(
            ip("Dst IP", "fe80::1%eth0").unwrap(),
            ip("Dst IP", "fe80::1").unwrap()
        );
        for bad in ["192.168.10.256", "192.168.010.5", "192.168.10", "host", ""] {
            assert!(ip("Src IP", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn naive_timestamps_are_read_in_the_configured_zone() {
        let t = timestamp("Timestamp", "2017-07-07 12:59:21.088203", chrono_tz::UTC).unwrap();
        assert_eq!(t, utc("2017-07-07T12:59:21.088203Z"));
        let t = timestamp(
            "Timestamp",
            "2017-07-07T12:59:21",
            chrono_tz::America::Halifax,
        )
        .unwrap();
        assert_eq!(t, utc("2017-07-07T15:59:21Z"));
        let t = timestamp("Timestamp", "2017-07-07 12:59:21.5", chrono_tz::UTC).unwrap();
        assert_eq!(
            t.time(),
            NaiveTime::from_hms_milli_opt(12, 59, 21, 500).unwrap()
        );
        let t = timestamp("Timestamp", "2017-07-07T12:59:21+02:00", chrono_tz::UTC).unwrap();
        assert_eq!(t, utc("2017-07-07T10:59:21Z"));
    }

    #[test]
    fn daylight_saving_changes_never_fail() {
        let berlin = chrono_tz::Europe::Berlin;
        // 02:30 does not exist on 2017-03-26 in Berlin: read with the winter offset (+01:00).
        let gap = timestamp("Timestamp", "2017-03-26 02:30:00", berlin).unwrap();
        assert_eq!(gap, utc("2017-03-26T01:30:00Z"));
        // 02:30 happens twice on 2017-10-29: the first one (still +02:00) is taken.
        let twice = timestamp("Timestamp", "2017-10-29 02:30:00", berlin).unwrap();
        assert_eq!(twice, utc("2017-10-29T00:30:00Z"));
    }

    #[test]
    fn malformed_timestamps_are_rejected_with_their_value() {
        for bad in [
            "2017-02-30 10:00:00",
            "2017-07-07 25:00:00",
            "2017-07-07 12:59",
            "2017-07-07 12:59:21.",
            "2017-07-07 12:59:21.1234567890",
            "7/7/2017 8:59",
            "",
        ] {
            let err = timestamp("Timestamp", bad, chrono_tz::UTC).unwrap_err();
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn row_times_step_by_the_interval_and_saturate() {
        let start = utc("2020-01-01T00:00:00Z");
        assert_eq!(row_time(start, 0, 1000), start);
        assert_eq!(row_time(start, 3, 1000), utc("2020-01-01T00:00:00.003Z"));
        assert_eq!(
            row_time(start, u64::MAX, u64::MAX),
            DateTime::<Utc>::MAX_UTC
        );
    }
}
