//! Durations as people write and read them.
//!
//! One printer, [`human`], for every duration a person reads (messages, hints, the terminal,
//! the reports' text): a wait that gave up after 1.9995 s says `2 s`, not the nanoseconds the
//! clock measured. And one reader, [`parse`], for every duration a plan, a flag or the sandbox's
//! configuration states: each place has a [`Bound`], so that a value the runtime could not hold
//! (or that makes no sense there) is refused where it is written, with the maximum in the hint.

use std::time::Duration;

/// Shows a duration as people write it, with the precision its size deserves: `850 µs`,
/// `450 ms`, `1.5 s`, `2 s`, `1 m 30 s`, `1 h 5 m`, `2 d 3 h`.
///
/// Below a second, whole milliseconds (whole microseconds or nanoseconds below those); below a
/// minute, seconds to a tenth; then two units, each rounded to the smaller one. A value that
/// rounds up to the next unit is shown in it (`999.7 ms` is `1 s`, not `1000 ms`).
pub(crate) fn human(d: Duration) -> String {
    const US: u128 = 1_000;
    const MS: u128 = 1_000_000;
    const TENTH: u128 = 100_000_000;
    const S: u128 = 1_000_000_000;
    const M: u128 = 60 * S;
    const H: u128 = 60 * M;
    const D: u128 = 24 * H;
    let ns = d.as_nanos();
    // Rounded to the nearest `unit` (u128 holds any Duration many times over).
    let round = |unit: u128| (ns + unit / 2) / unit;
    if ns == 0 {
        return "0 ms".to_owned();
    }
    if ns < US {
        return format!("{ns} ns");
    }
    if round(US) < 1_000 {
        return format!("{} µs", round(US));
    }
    if round(MS) < 1_000 {
        return format!("{} ms", round(MS));
    }
    let tenths = round(TENTH);
    if tenths < 600 {
        return match tenths % 10 {
            0 => format!("{} s", tenths / 10),
            t => format!("{}.{t} s", tenths / 10),
        };
    }
    let two = |big: u128, big_unit: &str, small: u128, small_unit: &str| {
        let n = round(small);
        let per = big / small;
        match n % per {
            0 => format!("{} {big_unit}", n / per),
            rest => format!("{} {big_unit} {rest} {small_unit}", n / per),
        }
    };
    if round(S) < 3_600 {
        two(M, "m", S, "s")
    } else if round(M) < 1_440 {
        two(H, "h", M, "m")
    } else {
        two(D, "d", H, "h")
    }
}

/// [`human`] of a number of milliseconds (the reports keep durations as milliseconds).
pub(crate) fn human_ms(ms: u64) -> String {
    human(Duration::from_millis(ms))
}

/// `from + d`, saturating at a moment centuries away (still representable) instead of
/// overflowing: for deadlines that must exist.
pub(crate) fn saturating_deadline<T>(from: T, d: Duration) -> T
where
    T: CheckedAdd + Copy,
{
    // A hundred years: past any run, and representable on every platform's clock.
    const FAR: Duration = Duration::from_secs(100 * 365 * 86_400);
    from.checked_add_duration(d)
        .or_else(|| from.checked_add_duration(FAR))
        .unwrap_or(from)
}

/// Clocks that add a duration without panicking.
pub(crate) trait CheckedAdd: Sized {
    /// `self + d`, or `None` on overflow.
    fn checked_add_duration(self, d: Duration) -> Option<Self>;
}

impl CheckedAdd for std::time::Instant {
    fn checked_add_duration(self, d: Duration) -> Option<Self> {
        self.checked_add(d)
    }
}

impl CheckedAdd for tokio::time::Instant {
    fn checked_add_duration(self, d: Duration) -> Option<Self> {
        self.checked_add(d)
    }
}

impl CheckedAdd for std::time::SystemTime {
    fn checked_add_duration(self, d: Duration) -> Option<Self> {
        self.checked_add(d)
    }
}

/// Where a duration is read: what it is (for messages), its maximum, and whether zero means
/// something there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bound {
    /// What the duration is, as a message names it: `a timeout`, `--timeout`.
    pub(crate) what: &'static str,
    /// The longest it may be.
    pub(crate) max: Duration,
    /// Whether zero is allowed (a delay may be zero; a timeout or a period may not).
    pub(crate) zero: bool,
}

impl Bound {
    /// A duration above zero and at most `max`.
    pub(crate) const fn positive(what: &'static str, max: Duration) -> Bound {
        Bound {
            what,
            max,
            zero: false,
        }
    }

    /// A duration from zero to `max`.
    pub(crate) const fn up_to(what: &'static str, max: Duration) -> Bound {
        Bound {
            what,
            max,
            zero: true,
        }
    }

    /// Checks a duration already read (e.g. by serde) against the bound.
    pub(crate) fn check(&self, text: &str, d: Duration) -> Result<Duration, DurationError> {
        if d.is_zero() && !self.zero {
            return Err(DurationError::Zero {
                text: text.to_owned(),
                what: self.what,
            });
        }
        if d > self.max {
            return Err(DurationError::TooLong {
                text: text.to_owned(),
                what: self.what,
                max: self.max,
            });
        }
        Ok(d)
    }
}

/// A duration that cannot be used where it is written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DurationError {
    /// Not a duration at all.
    #[error("invalid duration `{text}`: {reason}")]
    Invalid {
        /// As written.
        text: String,
        /// What the reader said.
        reason: String,
    },
    /// Zero where zero makes no sense.
    #[error("duration `{text}` is zero")]
    Zero {
        /// As written.
        text: String,
        /// What the duration is.
        what: &'static str,
    },
    /// Longer than the place allows.
    #[error("duration `{text}` is longer than {}, the longest {what} may be", written(*max))]
    TooLong {
        /// As written.
        text: String,
        /// What the duration is.
        what: &'static str,
        /// The maximum.
        max: Duration,
    },
}

impl DurationError {
    /// What to write instead, in one line.
    pub(crate) fn hint(&self) -> String {
        match self {
            DurationError::Invalid { text, .. }
                if !text.trim().is_empty() && text.trim().chars().all(|c| c.is_ascii_digit()) =>
            {
                format!("durations need a unit: `{}s`", text.trim())
            }
            DurationError::Invalid { .. } => {
                "write durations like `500ms`, `15s`, `1m30s` or `2h`".to_owned()
            }
            DurationError::Zero { .. } => "use a positive duration such as `15s`".to_owned(),
            DurationError::TooLong { max, .. } => {
                format!("write a duration of at most `{}`", written(*max))
            }
        }
    }
}

/// A duration the way a plan writes it, in its largest whole unit: `24h`, `7d`, `90s`.
pub(crate) fn written(d: Duration) -> String {
    const DAY: u64 = 86_400;
    let (secs, nanos) = (d.as_secs(), d.subsec_nanos());
    if nanos != 0 || secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    // Whole days only from two on: a day is more familiar as `24h`.
    if secs % DAY == 0 && secs >= 2 * DAY {
        format!("{}d", secs / DAY)
    } else if secs % 3_600 == 0 {
        format!("{}h", secs / 3_600)
    } else if secs % 60 == 0 {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

/// Reads a duration written like `500ms`, `15s`, `1m30s` or `2h`, within `bound`.
pub(crate) fn parse(text: &str, bound: Bound) -> Result<Duration, DurationError> {
    match humantime::parse_duration(text.trim()) {
        Ok(d) => bound.check(text, d),
        // Past what a duration holds at all: longer than any maximum.
        Err(humantime::DurationError::NumberOverflow) => Err(DurationError::TooLong {
            text: text.to_owned(),
            what: bound.what,
            max: bound.max,
        }),
        Err(e) => Err(DurationError::Invalid {
            text: text.to_owned(),
            reason: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn durations_print_as_people_write_them() {
        assert_eq!(human(Duration::ZERO), "0 ms");
        assert_eq!(human(Duration::from_nanos(7)), "7 ns");
        assert_eq!(human(Duration::from_nanos(850_400)), "850 µs");
        assert_eq!(human(Duration::from_nanos(999_600)), "1 ms");
        assert_eq!(human(ms(450)), "450 ms");
        assert_eq!(human(Duration::from_micros(999_700)), "1 s");
        assert_eq!(human(ms(1_500)), "1.5 s");
        assert_eq!(human(ms(2_000)), "2 s");
        assert_eq!(human(ms(19_940)), "19.9 s");
        assert_eq!(human(ms(59_990)), "1 m");
        assert_eq!(human(ms(90_000)), "1 m 30 s");
        assert_eq!(human(ms(3_599_600)), "1 h");
        assert_eq!(human(Duration::from_secs(3_900)), "1 h 5 m");
        assert_eq!(human(Duration::from_secs(86_400)), "1 d");
        assert_eq!(human(Duration::from_secs(7 * 86_400)), "7 d");
        assert_eq!(
            human(Duration::from_secs(2 * 86_400 + 3 * 3_600)),
            "2 d 3 h"
        );
    }

    #[test]
    fn the_nanoseconds_of_a_measured_wait_are_not_shown() {
        // What a wait of two seconds measures on a real clock.
        assert_eq!(human(Duration::new(1, 999_530_644)), "2 s");
        assert_eq!(human(Duration::new(0, 449_700_123)), "450 ms");
        assert_eq!(human(Duration::new(90, 12_345)), "1 m 30 s");
    }

    #[test]
    fn the_longest_durations_print_without_overflow() {
        assert_eq!(human(Duration::MAX), "213503982334601 d 7 h");
        assert_eq!(human_ms(u64::MAX), "213503982334 d 14 h");
    }

    #[test]
    fn bounds_refuse_zero_and_too_long_and_name_the_maximum() {
        let timeout = Bound::positive("a timeout", Duration::from_secs(86_400));
        assert_eq!(parse("15s", timeout), Ok(Duration::from_secs(15)));
        assert_eq!(parse(" 24h ", timeout), Ok(Duration::from_secs(86_400)));
        let zero = parse("0s", timeout).expect_err("zero");
        assert_eq!(zero.to_string(), "duration `0s` is zero");
        let long = parse("24h 1s", timeout).expect_err("too long");
        assert_eq!(
            long.to_string(),
            "duration `24h 1s` is longer than 24h, the longest a timeout may be"
        );
        assert_eq!(long.hint(), "write a duration of at most `24h`");
        for absurd in ["585y", "18446744073709551615s", "99999999999999999999999y"] {
            assert!(
                matches!(parse(absurd, timeout), Err(DurationError::TooLong { .. })),
                "{absurd}"
            );
        }
        let delay = Bound::up_to("a delay", Duration::from_secs(60));
        assert_eq!(parse("0s", delay), Ok(Duration::ZERO));
    }

    #[test]
    fn maximums_are_written_as_a_plan_writes_them() {
        assert_eq!(written(Duration::from_secs(86_400)), "24h");
        assert_eq!(written(Duration::from_secs(7 * 86_400)), "7d");
        assert_eq!(written(Duration::from_secs(3_600)), "1h");
        assert_eq!(written(Duration::from_secs(90)), "90s");
        assert_eq!(written(Duration::from_secs(120)), "2m");
        assert_eq!(written(Duration::from_millis(1_500)), "1500ms");
        for d in [86_400, 7 * 86_400, 3_600, 90, 120] {
            let d = Duration::from_secs(d);
            assert_eq!(humantime::parse_duration(&written(d)), Ok(d));
        }
    }

    #[test]
    fn mistakes_get_the_usual_hints() {
        let any = Bound::positive("a timeout", Duration::MAX);
        let no_unit = parse("15", any).expect_err("no unit");
        assert_eq!(no_unit.hint(), "durations need a unit: `15s`");
        let junk = parse("soon", any).expect_err("not a duration");
        assert!(junk.to_string().starts_with("invalid duration `soon`: "));
        assert_eq!(
            junk.hint(),
            "write durations like `500ms`, `15s`, `1m30s` or `2h`"
        );
    }

    #[test]
    fn deadlines_never_overflow() {
        let now = std::time::Instant::now();
        assert_eq!(saturating_deadline(now, ms(5)), now + ms(5));
        assert!(saturating_deadline(now, Duration::MAX) > now + Duration::from_secs(86_400));
        let wall = std::time::SystemTime::now();
        assert!(saturating_deadline(wall, Duration::MAX) > wall);
    }
}
