//! The timestamp check shared by the schemes that sign one.

use std::time::{Duration, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use seam_core::Clock;

use crate::error::VerifyError;

/// Checks that `timestamp` (Unix seconds) is within `tolerance` of the clock, in either
/// direction, and returns it as a date.
pub(crate) fn check(
    clock: &dyn Clock,
    timestamp: i64,
    tolerance: Duration,
) -> Result<DateTime<Utc>, VerifyError> {
    let now = match clock.system_time().duration_since(UNIX_EPOCH) {
        Ok(since) => i128::from(since.as_secs()),
        Err(before) => -i128::from(before.duration().as_secs()),
    };
    let skew = i128::from(timestamp) - now;
    if skew.unsigned_abs() > u128::from(tolerance.as_secs()) {
        return Err(VerifyError::TimestampOutOfTolerance {
            timestamp,
            skew_seconds: i64::try_from(skew).unwrap_or(i64::MIN),
            tolerance_seconds: tolerance.as_secs(),
        });
    }
    // Within the tolerance of a real clock, so always a representable date; the
    // fallback only guards a clock set wildly wrong.
    Ok(DateTime::from_timestamp(timestamp, 0).unwrap_or(DateTime::UNIX_EPOCH))
}

/// Refuses a tolerance below one second: it would reject every honest request.
pub(crate) fn valid_tolerance(tolerance: Duration) -> bool {
    tolerance >= Duration::from_secs(1)
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use seam_core::ManualClock;

    use super::*;

    #[test]
    fn both_directions_are_checked_inclusively() {
        let clock = ManualClock::starting_at(UNIX_EPOCH + Duration::from_secs(1_000_000));
        let tolerance = Duration::from_secs(300);
        assert!(check(&clock, 1_000_000, tolerance).is_ok());
        assert!(check(&clock, 1_000_300, tolerance).is_ok());
        assert!(check(&clock, 999_700, tolerance).is_ok());
        assert!(matches!(
            check(&clock, 1_000_301, tolerance),
            Err(VerifyError::TimestampOutOfTolerance {
                skew_seconds: 301,
                ..
            })
        ));
        assert!(matches!(
            check(&clock, 999_699, tolerance),
            Err(VerifyError::TimestampOutOfTolerance {
                skew_seconds: -301,
                ..
            })
        ));
    }

    #[test]
    fn a_clock_before_the_epoch_does_not_panic() {
        let clock = ManualClock::starting_at(SystemTime::UNIX_EPOCH - Duration::from_secs(10));
        assert!(check(&clock, 0, Duration::from_secs(5)).is_err());
        assert!(check(&clock, 0, Duration::from_secs(10)).is_ok());
    }
}
