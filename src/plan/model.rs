//! The validated plan: what the runner sees. Built by [`super::check`] from the raw types once
//! every check has passed; durations are parsed, defaults applied, actions resolved in the
//! catalogue.

use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;

use super::raw;
use crate::provider::{ActionSpec, ProviderKind};

/// The default step timeout when neither the step nor `defaults` sets one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// A plan that passed `check`.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The file it came from.
    pub path: PathBuf,
    /// `name`.
    pub name: String,
    /// `description`.
    pub description: Option<String>,
    /// `vars`, before `--var` overrides.
    pub vars: IndexMap<String, serde_json::Value>,
    /// `secrets`: where each comes from (values are read only when the plan runs).
    pub secrets: IndexMap<String, raw::SecretSource>,
    /// `providers`.
    pub providers: IndexMap<String, Provider>,
    /// `guard`.
    pub guard: Guard,
    /// `notify`.
    pub notify: Vec<raw::Notify>,
    /// `report`.
    pub report: Option<raw::ReportSettings>,
    /// `steps`, in order.
    pub steps: Vec<Step>,
}

/// A provider with its parsed settings.
#[derive(Debug, Clone)]
pub struct Provider {
    /// Which platform.
    pub kind: ProviderKind,
    /// The settings as written (URLs and credentials are templates).
    pub config: raw::Provider,
    /// `rate_limit`: requests per period, and the burst.
    pub rate_limit: Option<crate::provider::pacing::Limit>,
    /// `timeout` of one request.
    pub timeout: Option<Duration>,
    /// How its login is retried: its `retry`, or `defaults.retry`, or [`RetryPolicy::login`].
    pub login_retry: RetryPolicy,
    /// `reconcile_delay`.
    pub reconcile_delay: Option<Duration>,
}

/// `guard`, parsed.
#[derive(Debug, Clone, Default)]
pub struct Guard {
    /// `allow_destinations`; empty allows every number.
    pub allow: Vec<DestinationPattern>,
    /// `deny_destinations`.
    pub deny: Vec<DestinationPattern>,
    /// `max_calls`.
    pub max_calls: Option<u64>,
    /// `calling_hours`.
    pub hours: Option<CallingHours>,
}

/// `calling_hours`, parsed.
#[derive(Debug, Clone)]
pub struct CallingHours {
    /// Allowed days (every day when `None`).
    pub days: Option<Vec<chrono::Weekday>>,
    /// Minutes after midnight the window opens.
    pub from: u32,
    /// Minutes after midnight it closes (before `from`: across midnight).
    pub to: u32,
    /// The zone, when the destination's is not given.
    pub zone: chrono_tz::Tz,
    /// A template for the destination's zone.
    pub destination_zone: Option<String>,
}

fn hhmm(minutes: u32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

impl CallingHours {
    /// Why a dial at `now` in `zone` is refused, if it is.
    pub fn refusal(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        zone: chrono_tz::Tz,
    ) -> Option<String> {
        use chrono::{Datelike as _, Timelike as _};
        let local = now.with_timezone(&zone);
        let minute = local.hour() * 60 + local.minute();
        let day_ok = |day: chrono::Weekday| self.days.as_ref().is_none_or(|d| d.contains(&day));
        let open = if self.from < self.to {
            minute >= self.from && minute < self.to && day_ok(local.weekday())
        } else {
            // Across midnight: the evening part belongs to today, the morning part to the
            // window that opened yesterday.
            (minute >= self.from && day_ok(local.weekday()))
                || (minute < self.to && day_ok(local.weekday().pred()))
        };
        if open {
            return None;
        }
        Some(format!(
            "outside calling hours: it is {} {} in {zone} (allowed {})",
            local.weekday().to_string().to_lowercase(),
            hhmm(minute),
            self.allowed()
        ))
    }

    /// When dials are allowed: `mon, tue, wed, thu, fri, 09:00–20:00`.
    pub fn allowed(&self) -> String {
        let days = match &self.days {
            None => "every day".to_owned(),
            Some(d) => d
                .iter()
                .map(|d| d.to_string().to_lowercase())
                .collect::<Vec<_>>()
                .join(", "),
        };
        format!("{days}, {}–{}", hhmm(self.from), hhmm(self.to))
    }
}

impl Guard {
    /// Why the guard refuses to dial `number`, if it does.
    pub fn refusal(&self, number: &str) -> Option<String> {
        if let Some(p) = self.deny.iter().find(|p| p.matches(number)) {
            return Some(format!(
                "{number} matches deny_destinations pattern `{}`",
                p.text
            ));
        }
        if !self.allow.is_empty() && !self.allow.iter().any(|p| p.matches(number)) {
            let patterns: Vec<&str> = self.allow.iter().map(|p| p.text.as_str()).collect();
            return Some(format!(
                "{number} matches none of allow_destinations ({})",
                patterns.join(", ")
            ));
        }
        None
    }
}

/// An E.164 pattern: `+` then digits, each `*` standing for exactly one digit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationPattern {
    /// As written.
    pub text: String,
    digits: Vec<Option<u8>>,
}

impl DestinationPattern {
    /// Parses a pattern; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let Some(body) = text.strip_prefix('+') else {
            return Err("a destination pattern starts with `+` and the country code".into());
        };
        if body.is_empty() || body.len() > 15 {
            return Err("a destination pattern has 1 to 15 digits or `*` after the `+`".into());
        }
        let mut digits = Vec::with_capacity(body.len());
        for (i, c) in body.chars().enumerate() {
            match c {
                '0'..='9' => digits.push(Some(c as u8 - b'0')),
                '*' => digits.push(None),
                other => {
                    return Err(format!(
                        "`{other}` at position {} is not allowed: use digits, and `*` for any one digit",
                        i + 2
                    ));
                }
            }
        }
        if digits.first() == Some(&Some(0)) {
            return Err("country codes never start with 0".into());
        }
        Ok(DestinationPattern {
            text: text.to_owned(),
            digits,
        })
    }

    /// Whether every number this pattern matches also matches `other` (so `other` as a deny
    /// pattern leaves nothing of this one).
    pub fn within(&self, other: &DestinationPattern) -> bool {
        self.digits.len() == other.digits.len()
            && self
                .digits
                .iter()
                .zip(&other.digits)
                .all(|(mine, theirs)| theirs.is_none() || (mine.is_some() && mine == theirs))
    }

    /// Whether an E.164 number matches: same length, every digit equal or a `*`.
    pub fn matches(&self, number: &str) -> bool {
        let Some(body) = number.strip_prefix('+') else {
            return false;
        };
        body.len() == self.digits.len()
            && body
                .bytes()
                .zip(&self.digits)
                .all(|(b, d)| b.is_ascii_digit() && d.is_none_or(|d| d == b - b'0'))
    }
}

/// A step, resolved.
#[derive(Debug, Clone)]
pub struct Step {
    /// `id`.
    pub id: String,
    /// `name`, or the id.
    pub name: String,
    /// The provider's name.
    pub provider: String,
    /// The action, from the catalogue.
    pub action: &'static ActionSpec,
    /// `with`, as written (strings are templates).
    pub with: IndexMap<String, serde_json::Value>,
    /// `if`.
    pub condition: Option<String>,
    /// `for_each`.
    pub for_each: Option<ForEachSource>,
    /// `as` (default `item`).
    pub item_name: String,
    /// `concurrency` (default 1).
    pub concurrency: u32,
    /// `expect`.
    pub expect: Vec<String>,
    /// `save`.
    pub save: IndexMap<String, String>,
    /// `on_error`, after defaults.
    pub on_error: raw::OnError,
    /// `retry`, after defaults.
    pub retry: RetryPolicy,
    /// `timeout`, after defaults.
    pub timeout: Duration,
    /// `always`.
    pub always: bool,
    /// A flow's steps, run in order once per `for_each` row (`None` for an action step, whose
    /// `provider` and `action` are then its own; a flow's action is [`crate::provider::FLOW`]).
    pub flow: Option<Vec<Step>>,
}

impl Step {
    /// The flow's steps, when it is one.
    pub fn flow(&self) -> Option<&[Step]> {
        self.flow.as_deref()
    }
}

/// Where a `for_each` step's items come from (files resolved against the plan's directory).
#[derive(Debug, Clone)]
pub enum ForEachSource {
    /// Written in the plan.
    Inline {
        /// The items.
        items: Vec<serde_json::Value>,
        /// The plan's file, as the user named it.
        file: PathBuf,
        /// The line each item starts on in it (0 when unknown).
        lines: Vec<usize>,
    },
    /// A CSV file with a header row.
    Csv(PathBuf),
    /// A JSON array.
    Json(PathBuf),
    /// One JSON value per line.
    Jsonl(PathBuf),
    /// A list an earlier step saved: a template rendered when the step starts
    /// (`"{{ steps.lookup.contacts }}"`).
    Saved(String),
}

/// A retry policy with its defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts, the first included.
    pub attempts: u32,
    /// Growth of the delay.
    pub backoff: raw::Backoff,
    /// First delay.
    pub initial: Duration,
    /// Largest delay (also caps `Retry-After`).
    pub max: Duration,
    /// Randomized delays.
    pub jitter: bool,
    /// Failure kinds retried.
    pub when: Vec<raw::RetryOn>,
    /// Retry requests that may have created something.
    pub allow_unsafe: bool,
}

impl RetryPolicy {
    /// A login's policy when the plan sets none: a login is safe to repeat, so a passing 503
    /// or a slow token endpoint should not fail a CI run that dials nobody yet.
    pub fn login() -> RetryPolicy {
        RetryPolicy {
            attempts: 3,
            ..RetryPolicy::default()
        }
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 1,
            backoff: raw::Backoff::Exponential,
            initial: Duration::from_secs(1),
            max: Duration::from_secs(30),
            jitter: true,
            when: vec![
                raw::RetryOn::RateLimited,
                raw::RetryOn::ServerError,
                raw::RetryOn::Timeout,
                raw::RetryOn::Connection,
            ],
            allow_unsafe: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_digit_for_digit() {
        let p = DestinationPattern::parse("+1317555****").expect("valid");
        assert!(p.matches("+13175550100"));
        assert!(!p.matches("+13175560100"));
        assert!(!p.matches("+131755501000"));
        assert!(!p.matches("13175550100"));
        assert!(DestinationPattern::parse("1317555").is_err());
        assert!(DestinationPattern::parse("+1317-555").is_err());
        assert!(DestinationPattern::parse("+0123").is_err());
    }

    #[test]
    fn a_pattern_within_another() {
        let p = |t: &str| DestinationPattern::parse(t).expect("valid");
        assert!(p("+13175550100").within(&p("+1317555****")));
        assert!(p("+131755501**").within(&p("+1317555****")));
        assert!(!p("+1317555****").within(&p("+131755501**")));
        assert!(!p("+1317555****").within(&p("+13175550100")));
        assert!(!p("+1317555").within(&p("+1317555****")));
    }

    #[test]
    fn calling_hours_open_and_close() {
        use chrono::TimeZone as _;
        let hours = CallingHours {
            days: Some(vec![chrono::Weekday::Mon, chrono::Weekday::Fri]),
            from: 9 * 60,
            to: 20 * 60,
            zone: chrono_tz::America::New_York,
            destination_zone: None,
        };
        let zone = chrono_tz::America::New_York;
        // Friday 2026-11-20 14:00 UTC is 09:00 in New York: open.
        let at = |d, h, m| chrono::Utc.with_ymd_and_hms(2026, 11, d, h, m, 0).unwrap();
        assert_eq!(hours.refusal(at(20, 14, 0), zone), None);
        let closed = hours.refusal(at(20, 13, 59), zone).unwrap();
        assert!(closed.contains("fri 08:59 in America/New_York"), "{closed}");
        // Saturday is not allowed.
        assert!(hours.refusal(at(21, 15, 0), zone).is_some());
        // The same moment is evening in Tokyo.
        assert!(
            hours
                .refusal(at(20, 14, 0), chrono_tz::Asia::Tokyo)
                .is_some()
        );
        let night = CallingHours {
            days: Some(vec![chrono::Weekday::Fri]),
            from: 22 * 60,
            to: 2 * 60,
            zone: chrono_tz::UTC,
            destination_zone: None,
        };
        assert_eq!(night.refusal(at(20, 23, 0), chrono_tz::UTC), None);
        // 01:00 on Saturday belongs to Friday's window.
        assert_eq!(night.refusal(at(21, 1, 0), chrono_tz::UTC), None);
        assert!(night.refusal(at(21, 23, 0), chrono_tz::UTC).is_some());
    }

    #[test]
    fn guard_denies_before_it_allows() {
        let guard = Guard {
            allow: vec![DestinationPattern::parse("+1317555****").expect("valid")],
            deny: vec![DestinationPattern::parse("+13175550199").expect("valid")],
            max_calls: None,
            hours: None,
        };
        assert!(guard.refusal("+13175550100").is_none());
        assert!(guard.refusal("+13175550199").is_some());
        assert!(guard.refusal("+442079460000").is_some());
    }
}
