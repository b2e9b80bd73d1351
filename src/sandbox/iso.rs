//! ISO-8601 instants and intervals, as clients write them in query bodies and parameters.
//!
//! Genesys's analytics `interval` (`start/end`) and CXone's reporting `startDate`, `endDate` and
//! `updatedSince` are all read here, so both vendors accept the same spellings.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// An instant: RFC 3339 (`2024-01-01T12:00:00Z`, `2024-01-01T12:00:00.000+02:00`), or the same
/// without an offset, read as UTC (Genesys's documented example is `YYYY-MM-DDThh:mm:ss`), with
/// a space for the `T`, or a bare date (midnight UTC).
pub(super) fn instant(text: &str) -> Option<SystemTime> {
    let text = text.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(t.into());
    }
    // CXone clients also write a space for the `T` (`startDate=2024-01-01 12:00`).
    let naive = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|format| chrono::NaiveDateTime::parse_from_str(text, format).ok())
    .or_else(|| {
        chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()?
            .and_hms_opt(0, 0, 0)
    })?;
    Some(naive.and_utc().into())
}

/// An interval `start/end` with `start` before `end`.
pub(super) fn interval(text: &str) -> Option<(SystemTime, SystemTime)> {
    let (start, end) = text.split_once('/')?;
    let (start, end) = (instant(start)?, instant(end)?);
    (start < end).then_some((start, end))
}

const DAY: u64 = 86_400;

/// Midnight UTC of the day `t` falls on.
pub(super) fn day_start(t: SystemTime) -> SystemTime {
    match t.duration_since(UNIX_EPOCH) {
        Ok(since) => UNIX_EPOCH + Duration::from_secs(since.as_secs() / DAY * DAY),
        // Before 1970: round down, away from the epoch.
        Err(e) => {
            let before = e.duration();
            UNIX_EPOCH - Duration::from_secs(before.as_secs().div_ceil(DAY) * DAY)
        }
    }
}

/// Midnight UTC of the day after the one `t` falls on.
pub(super) fn next_day(t: SystemTime) -> SystemTime {
    day_start(t) + Duration::from_secs(DAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64, millis: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis)
    }

    #[test]
    fn instants_read_with_or_without_an_offset() {
        // 2024-01-01T00:00:00Z
        let midnight = at(1_704_067_200, 0);
        assert_eq!(instant("2024-01-01T00:00:00Z"), Some(midnight));
        assert_eq!(instant("2024-01-01T00:00:00.000Z"), Some(midnight));
        assert_eq!(instant("2024-01-01T02:00:00+02:00"), Some(midnight));
        assert_eq!(instant("2024-01-01T00:00:00"), Some(midnight));
        assert_eq!(instant("2024-01-01T00:00"), Some(midnight));
        assert_eq!(instant("2024-01-01"), Some(midnight));
        assert_eq!(instant("2024-01-01 00:00"), Some(midnight));
        assert_eq!(instant("2024-01-01 00:00:00Z"), Some(midnight));
        assert_eq!(
            instant("2024-01-01T00:00:00.250Z"),
            Some(at(1_704_067_200, 250))
        );
        assert_eq!(instant("yesterday"), None);
        assert_eq!(instant("2024-13-01T00:00:00Z"), None);
        assert_eq!(instant(""), None);
    }

    #[test]
    fn intervals_need_two_ordered_instants() {
        let (start, end) = interval("2024-01-01T00:00:00Z/2024-01-02T00:00:00Z").unwrap();
        assert_eq!(end.duration_since(start).unwrap(), Duration::from_secs(DAY));
        assert!(interval("2024-01-02T00:00:00Z/2024-01-01T00:00:00Z").is_none());
        assert!(interval("2024-01-01T00:00:00Z/2024-01-01T00:00:00Z").is_none());
        assert!(interval("2024-01-01T00:00:00Z").is_none());
        assert!(interval("2024-01-01T00:00:00Z/P1D").is_none());
    }

    #[test]
    fn days_are_utc_days() {
        let noon = at(1_704_067_200 + 43_200, 5);
        assert_eq!(day_start(noon), at(1_704_067_200, 0));
        assert_eq!(next_day(noon), at(1_704_067_200 + DAY, 0));
        assert_eq!(day_start(at(1_704_067_200, 0)), at(1_704_067_200, 0));
        let before_epoch = UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(
            day_start(before_epoch),
            UNIX_EPOCH - Duration::from_secs(DAY)
        );
    }
}
