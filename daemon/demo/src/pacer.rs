//! Mapping between event time and elapsed wall time, for playing the demo at a chosen speed.
//!
//! Pure arithmetic: the caller reads its own clock (for example a `tokio::time::Instant`
//! taken when playing starts) and sleeps; nothing here reads a clock or sleeps.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

/// A refused acceleration factor.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid demo speed {speed}: must be a finite factor above 0 (1 = real time)")]
pub struct PacerError {
    /// The refused factor.
    pub speed: f64,
}

/// Plays event time `speed` times faster than wall time, from an event-time origin.
///
/// ```
/// use std::time::Duration;
/// use chrono::{TimeDelta, TimeZone, Utc};
/// use vigil_demo::Pacer;
///
/// let origin = Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap();
/// let pacer = Pacer::new(origin, 60.0)?; // one event-time minute per wall second
/// assert_eq!(pacer.wall_offset(origin + TimeDelta::minutes(2)), Duration::from_secs(2));
/// assert_eq!(pacer.event_time_at(Duration::from_millis(500)), origin + TimeDelta::seconds(30));
/// # Ok::<(), vigil_demo::PacerError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pacer {
    origin: DateTime<Utc>,
    speed: f64,
}

impl Pacer {
    /// A pacer whose wall-time zero is event time `origin` (usually the config's `start`).
    pub fn new(origin: DateTime<Utc>, speed: f64) -> Result<Self, PacerError> {
        if speed.is_finite() && speed > 0.0 {
            Ok(Pacer { origin, speed })
        } else {
            Err(PacerError { speed })
        }
    }

    /// The event time at wall time zero.
    pub fn origin(&self) -> DateTime<Utc> {
        self.origin
    }

    /// The acceleration factor.
    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// Wall time after the start at which an event of `event_time` is due; zero for events
    /// before the origin, saturating for events absurdly far ahead.
    pub fn wall_offset(&self, event_time: DateTime<Utc>) -> Duration {
        let ahead = event_time.signed_duration_since(self.origin);
        let secs = seconds_of(ahead) / self.speed;
        Duration::try_from_secs_f64(secs.max(0.0)).unwrap_or(Duration::MAX)
    }

    /// The latest event time due after `wall_elapsed` of playing: release every event at
    /// or before it.
    pub fn event_time_at(&self, wall_elapsed: Duration) -> DateTime<Utc> {
        let secs = wall_elapsed.as_secs_f64() * self.speed;
        let micros = (secs * 1e6).round();
        // `as` saturates; the checked add catches the end of the calendar.
        let ahead = TimeDelta::microseconds(micros as i64);
        self.origin
            .checked_add_signed(ahead)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

fn seconds_of(delta: TimeDelta) -> f64 {
    delta.num_seconds() as f64 + f64::from(delta.subsec_nanos()) / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn origin() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0)
            .single()
            .unwrap_or(DateTime::UNIX_EPOCH)
    }

    #[test]
    fn refuses_bad_speeds_by_value() {
        for speed in [0.0, -2.0, f64::NAN, f64::INFINITY] {
            let err = Pacer::new(origin(), speed).err();
            assert_eq!(
                err.as_ref().map(|e| e.speed.to_bits()),
                Some(speed.to_bits())
            );
            let message = err.map(|e| e.to_string()).unwrap_or_default();
            assert!(message.contains(&speed.to_string()), "{message}");
        }
    }

    #[test]
    fn offsets_and_times_are_inverse() {
        let pacer = Pacer::new(origin(), 7.5).unwrap_or_else(|e| panic!("{e}"));
        let event_time = origin() + TimeDelta::milliseconds(123_456);
        let wall = pacer.wall_offset(event_time);
        assert!((wall.as_secs_f64() - 123.456 / 7.5).abs() < 1e-9);
        let back = pacer.event_time_at(wall);
        let error = back.signed_duration_since(event_time).num_microseconds();
        assert!(error.is_some_and(|e| e.abs() <= 1), "{error:?}");
    }

    #[test]
    fn saturates_instead_of_overflowing() {
        let pacer = Pacer::new(origin(), 1e12).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pacer.event_time_at(Duration::MAX), DateTime::<Utc>::MAX_UTC);
        let slow = Pacer::new(origin(), 1e-12).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(slow.wall_offset(DateTime::<Utc>::MAX_UTC), Duration::MAX);
        assert_eq!(slow.wall_offset(DateTime::<Utc>::MIN_UTC), Duration::ZERO);
    }
}
