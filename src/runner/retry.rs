//! Retry decisions: given a step's policy, the attempt that just failed and how it failed, retry
//! after a delay or stop, and say why.
//!
//! [`decide`] is a pure function: no clock and no randomness inside (the caller passes the jitter
//! draw), so every rule is unit-tested below without waiting. Safety comes first: a request that
//! creates something (a call, a callback, a contact) and may already have reached the provider is
//! not retried unless the step sets `retry.unsafe: true`, because a second attempt could dial a
//! customer twice. Only failures that prove nothing was done are safe: 429, a failed connection, a
//! timeout while connecting, and 503 with `Retry-After`.

use std::time::Duration;

use crate::duration::human;
use crate::plan::model::RetryPolicy;
use crate::plan::raw::{Backoff, RetryOn};
// The decision is made on how an attempt failed: callers of `decide` name both from here.
pub use crate::provider::failure::Failure;

/// What to do after a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Try again once `after` has passed.
    Retry {
        /// How long to wait before the next attempt.
        after: Duration,
        /// What failed, briefly ("HTTP 503, Retry-After 2 s"), for "retrying in {after} ({reason})".
        reason: String,
    },
    /// Do not try again.
    Stop {
        /// Why not, and what the step could change to allow it where that applies.
        reason: String,
    },
}

/// The `retry.when` kind a failure belongs to; `None` for statuses that are never retried (every
/// status but 429 and 5xx: the request itself is wrong, and sending it again changes nothing).
pub fn category(failure: &Failure) -> Option<RetryOn> {
    match *failure {
        Failure::Status { status: 429, .. } => Some(RetryOn::RateLimited),
        Failure::Status { status, .. } if (500..=599).contains(&status) => {
            Some(RetryOn::ServerError)
        }
        Failure::Status { .. } => None,
        Failure::Timeout { .. } => Some(RetryOn::Timeout),
        Failure::Connect | Failure::Broken => Some(RetryOn::Connection),
        Failure::Expectation => Some(RetryOn::Expectation),
    }
}

/// The name of a `retry.when` kind as written in a plan (`rate_limited`, `server_error`, …).
pub fn retry_on_name(kind: RetryOn) -> &'static str {
    match kind {
        RetryOn::RateLimited => "rate_limited",
        RetryOn::ServerError => "server_error",
        RetryOn::Timeout => "timeout",
        RetryOn::Connection => "connection",
        RetryOn::Expectation => "expectation",
    }
}

/// Decides whether to retry after attempt number `attempt` (1 = the first) failed with `failure`.
///
/// `creates`: the request creates something (a call, a callback, a contact), so a retry after a
/// failure that may have reached the server could create it twice. `jitter` is a random draw in
/// `[0, 1)` from the caller; values outside are clamped.
///
/// The rules, in order: statuses other than 429 and 5xx are never retried; the failure's kind must
/// be listed in `retry.when`; attempts must remain; a creating request is retried only after a safe
/// failure unless `retry.unsafe` is set; a `Retry-After` is waited exactly, unless it exceeds
/// `retry.max`; otherwise the backoff delay applies, with equal jitter if `retry.jitter` is set.
pub fn decide(
    policy: &RetryPolicy,
    creates: bool,
    attempt: u32,
    failure: &Failure,
    jitter: f64,
) -> Decision {
    let Some(kind) = category(failure) else {
        return stop(not_retried_status(failure));
    };
    if !policy.when.contains(&kind) {
        let name = retry_on_name(kind);
        return stop(format!(
            "not retried on {}: `retry.when` does not list `{name}`",
            kind_plural(kind)
        ));
    }
    if policy.attempts <= 1 {
        return stop(format!(
            "retries are off (retry.attempts is {})",
            policy.attempts
        ));
    }
    if attempt >= policy.attempts {
        return stop(format!("gave up after {attempt} attempts"));
    }
    if creates
        && !policy.allow_unsafe
        && let Some(why) = unsafe_because(failure)
    {
        return stop(why);
    }
    let reason = describe(failure);
    if let Failure::Status {
        retry_after: Some(wait),
        ..
    } = *failure
    {
        // The server said when to come back: earlier is pointless and jitter would only delay
        // further. A wait past the ceiling would stall the run beyond what the plan allows.
        if wait > policy.max {
            return stop(format!(
                "the server asked to wait {}, more than retry.max ({})",
                human(wait),
                human(policy.max)
            ));
        }
        return Decision::Retry {
            after: wait,
            reason,
        };
    }
    let base = backoff(policy, attempt);
    let after = if policy.jitter {
        equal_jitter(base, jitter)
    } else {
        base
    };
    Decision::Retry { after, reason }
}

/// The delay before the attempt after `attempt`, without jitter: `initial` for fixed backoff,
/// `initial * 2^(attempt-1)` for exponential, never more than `max`.
fn backoff(policy: &RetryPolicy, attempt: u32) -> Duration {
    let mut delay = policy.initial;
    if policy.backoff == Backoff::Exponential {
        // Doubling until the cap, rather than computing 2^(attempt-1): no overflow for any
        // attempt, and at most ~100 steps (a nanosecond doubles past `Duration::MAX` by then).
        for _ in 1..attempt {
            if delay >= policy.max || delay.is_zero() {
                break;
            }
            delay = delay.saturating_mul(2);
        }
    }
    delay.min(policy.max)
}

/// "Equal jitter": half the delay fixed, half random. Spreads clients that failed together without
/// ever collapsing to an immediate retry the way full jitter can.
fn equal_jitter(delay: Duration, jitter: f64) -> Duration {
    let draw = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let half = delay / 2;
    half.saturating_add(half.mul_f64(draw))
}

/// Why a failure of a creating request is not safe to retry, or `None` if it is.
fn unsafe_because(failure: &Failure) -> Option<String> {
    const HOW: &str = "set `retry.unsafe: true` to retry anyway";
    let sent = match *failure {
        // 429 is refused before anything is done; a failed connection sent nothing; 503 with
        // Retry-After is the conventional "not now, come back later" (nothing was done).
        Failure::Status { status: 429, .. }
        | Failure::Status {
            status: 503,
            retry_after: Some(_),
        }
        | Failure::Connect
        | Failure::Timeout { sent: false } => return None,
        Failure::Status {
            status: 503,
            retry_after: None,
        } => "HTTP 503 without Retry-After".to_owned(),
        Failure::Status { status, .. } => format!("HTTP {status}"),
        Failure::Timeout { sent: true } => "timed out after sending".to_owned(),
        Failure::Broken => "the connection broke after sending".to_owned(),
        Failure::Expectation => {
            return Some(format!(
                "not retried: the server answered, so the request went through and a retry \
                 would create something again; {HOW}"
            ));
        }
    };
    Some(format!(
        "not retried: the request may have reached the server and created something already \
         ({sent}), so a retry could create it twice; {HOW}"
    ))
}

/// The stop reason for a status that is never retried.
fn not_retried_status(failure: &Failure) -> String {
    match *failure {
        Failure::Status { status, .. } if (400..=499).contains(&status) => {
            format!("HTTP {status} is not retried: the request itself is wrong")
        }
        Failure::Status { status, .. } => format!("HTTP {status} is not retried"),
        // Every other failure has a category; keep a sensible text rather than panic.
        _ => format!("{} is not retried", describe(failure)),
    }
}

/// A failure kind in the plural, as in "not retried on timeouts".
fn kind_plural(kind: RetryOn) -> &'static str {
    match kind {
        RetryOn::RateLimited => "rate limiting (HTTP 429)",
        RetryOn::ServerError => "server errors (HTTP 5xx)",
        RetryOn::Timeout => "timeouts",
        RetryOn::Connection => "connection failures",
        RetryOn::Expectation => "unmet expectations",
    }
}

/// What failed, briefly.
fn describe(failure: &Failure) -> String {
    match *failure {
        Failure::Status {
            status,
            retry_after: Some(wait),
        } => format!("HTTP {status}, Retry-After {}", human(wait)),
        Failure::Status {
            status,
            retry_after: None,
        } => format!("HTTP {status}"),
        Failure::Timeout { sent: true } => "timed out".to_owned(),
        Failure::Timeout { sent: false } => "timed out connecting".to_owned(),
        Failure::Connect => "could not connect".to_owned(),
        Failure::Broken => "connection broke".to_owned(),
        Failure::Expectation => "expectation not met".to_owned(),
    }
}

fn stop(reason: String) -> Decision {
    Decision::Stop { reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [RetryOn; 5] = [
        RetryOn::RateLimited,
        RetryOn::ServerError,
        RetryOn::Timeout,
        RetryOn::Connection,
        RetryOn::Expectation,
    ];

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    /// 5 attempts, exponential from 1s to 30s, no jitter, every kind retried.
    fn policy() -> RetryPolicy {
        RetryPolicy {
            attempts: 5,
            backoff: Backoff::Exponential,
            initial: secs(1),
            max: secs(30),
            jitter: false,
            when: ALL.to_vec(),
            allow_unsafe: false,
        }
    }

    fn status(status: u16) -> Failure {
        Failure::Status {
            status,
            retry_after: None,
        }
    }

    fn status_after(status: u16, wait: Duration) -> Failure {
        Failure::Status {
            status,
            retry_after: Some(wait),
        }
    }

    #[track_caller]
    fn retry_after(d: Decision) -> Duration {
        match d {
            Decision::Retry { after, .. } => after,
            Decision::Stop { reason } => panic!("expected a retry, got stop: {reason}"),
        }
    }

    #[track_caller]
    fn retry_reason(d: Decision) -> String {
        match d {
            Decision::Retry { reason, .. } => reason,
            Decision::Stop { reason } => panic!("expected a retry, got stop: {reason}"),
        }
    }

    #[track_caller]
    fn stop_reason(d: Decision) -> String {
        match d {
            Decision::Stop { reason } => reason,
            Decision::Retry { after, reason } => {
                panic!("expected a stop, got retry in {after:?} ({reason})")
            }
        }
    }

    #[test]
    fn failures_fall_into_their_categories() {
        assert_eq!(category(&status(429)), Some(RetryOn::RateLimited));
        assert_eq!(category(&status(500)), Some(RetryOn::ServerError));
        assert_eq!(category(&status(599)), Some(RetryOn::ServerError));
        assert_eq!(
            category(&Failure::Timeout { sent: true }),
            Some(RetryOn::Timeout)
        );
        assert_eq!(
            category(&Failure::Timeout { sent: false }),
            Some(RetryOn::Timeout)
        );
        assert_eq!(category(&Failure::Connect), Some(RetryOn::Connection));
        assert_eq!(category(&Failure::Broken), Some(RetryOn::Connection));
        assert_eq!(category(&Failure::Expectation), Some(RetryOn::Expectation));
        for never in [200, 302, 400, 401, 403, 404, 409, 422, 499, 600] {
            assert_eq!(category(&status(never)), None, "HTTP {never}");
        }
    }

    #[test]
    fn client_errors_are_never_retried() {
        for code in [400, 401, 404, 409, 422] {
            let reason = stop_reason(decide(&policy(), false, 1, &status(code), 0.0));
            assert_eq!(
                reason,
                format!("HTTP {code} is not retried: the request itself is wrong")
            );
        }
        // Even with a Retry-After and every kind listed.
        let reason = stop_reason(decide(
            &policy(),
            false,
            1,
            &status_after(400, secs(1)),
            0.0,
        ));
        assert!(reason.starts_with("HTTP 400 is not retried"), "{reason}");
    }

    #[test]
    fn a_kind_missing_from_retry_on_stops_and_names_the_yaml_value() {
        let cases = [
            (status(429), "rate_limited"),
            (status(502), "server_error"),
            (Failure::Timeout { sent: false }, "timeout"),
            (Failure::Connect, "connection"),
            (Failure::Broken, "connection"),
            (Failure::Expectation, "expectation"),
        ];
        for (failure, name) in cases {
            let kind = category(&failure).unwrap();
            let p = RetryPolicy {
                when: ALL.into_iter().filter(|k| *k != kind).collect(),
                ..policy()
            };
            let reason = stop_reason(decide(&p, false, 1, &failure, 0.0));
            assert!(
                reason.ends_with(&format!("`retry.when` does not list `{name}`")),
                "{failure:?}: {reason}"
            );
            // And listed, the same failure is retried.
            retry_after(decide(&policy(), false, 1, &failure, 0.0));
        }
        let p = RetryPolicy {
            when: vec![RetryOn::ServerError],
            ..policy()
        };
        assert_eq!(
            stop_reason(decide(&p, false, 1, &Failure::Timeout { sent: true }, 0.0)),
            "not retried on timeouts: `retry.when` does not list `timeout`"
        );
    }

    #[test]
    fn default_policy_does_not_retry() {
        let reason = stop_reason(decide(&RetryPolicy::default(), false, 1, &status(503), 0.5));
        assert_eq!(reason, "retries are off (retry.attempts is 1)");
    }

    #[test]
    fn stops_when_attempts_are_exhausted() {
        let p = RetryPolicy {
            attempts: 4,
            ..policy()
        };
        retry_after(decide(&p, false, 3, &Failure::Connect, 0.0));
        assert_eq!(
            stop_reason(decide(&p, false, 4, &Failure::Connect, 0.0)),
            "gave up after 4 attempts"
        );
    }

    #[test]
    fn two_503s_then_the_third_attempt_is_allowed_under_three_attempts() {
        let p = RetryPolicy {
            attempts: 3,
            ..policy()
        };
        for creates in [false, true] {
            let failure = status_after(503, secs(2));
            assert_eq!(retry_after(decide(&p, creates, 1, &failure, 0.0)), secs(2));
            assert_eq!(retry_after(decide(&p, creates, 2, &failure, 0.0)), secs(2));
            assert_eq!(
                stop_reason(decide(&p, creates, 3, &failure, 0.0)),
                "gave up after 3 attempts"
            );
        }
        // Without Retry-After and not creating: the backoff delays.
        assert_eq!(
            retry_after(decide(&p, false, 1, &status(503), 0.0)),
            secs(1)
        );
        assert_eq!(
            retry_after(decide(&p, false, 2, &status(503), 0.0)),
            secs(2)
        );
        stop_reason(decide(&p, false, 3, &status(503), 0.0));
    }

    #[test]
    fn retry_after_is_waited_exactly_without_jitter() {
        let p = RetryPolicy {
            jitter: true,
            ..policy()
        };
        let failure = status_after(429, Duration::from_millis(7_250));
        for draw in [0.0, 0.5, 0.99] {
            for attempt in [1, 3] {
                let d = decide(&p, true, attempt, &failure, draw);
                assert_eq!(retry_after(d), Duration::from_millis(7_250));
            }
        }
        // Equal to the ceiling is still allowed.
        assert_eq!(
            retry_after(decide(&p, false, 1, &status_after(503, secs(30)), 0.3)),
            secs(30)
        );
    }

    #[test]
    fn retry_after_over_the_ceiling_stops() {
        let reason = stop_reason(decide(
            &policy(),
            false,
            1,
            &status_after(503, secs(120)),
            0.0,
        ));
        assert_eq!(
            reason,
            "the server asked to wait 2 m, more than retry.max (30 s)"
        );
        let reason = stop_reason(decide(
            &policy(),
            true,
            1,
            &status_after(429, secs(31)),
            0.0,
        ));
        assert!(
            reason.contains("31 s") && reason.contains("retry.max"),
            "{reason}"
        );
    }

    #[test]
    fn rate_limited_without_retry_after_uses_the_backoff() {
        assert_eq!(
            retry_after(decide(&policy(), true, 1, &status(429), 0.0)),
            secs(1)
        );
        assert_eq!(
            retry_after(decide(&policy(), true, 3, &status(429), 0.0)),
            secs(4)
        );
    }

    #[test]
    fn create_timeout_after_sending_is_not_retried() {
        let reason = stop_reason(decide(
            &policy(),
            true,
            1,
            &Failure::Timeout { sent: true },
            0.0,
        ));
        assert!(reason.contains("timed out after sending"), "{reason}");
        assert!(reason.contains("created something"), "{reason}");
        assert!(reason.contains("`retry.unsafe: true`"), "{reason}");
    }

    #[test]
    fn create_timeout_after_sending_is_retried_when_unsafe_is_allowed() {
        let p = RetryPolicy {
            allow_unsafe: true,
            ..policy()
        };
        let d = decide(&p, true, 1, &Failure::Timeout { sent: true }, 0.0);
        assert_eq!(
            d,
            Decision::Retry {
                after: secs(1),
                reason: "timed out".into()
            }
        );
    }

    #[test]
    fn safe_failures_are_retried_on_a_create() {
        let safe = [
            status(429),
            status_after(429, secs(1)),
            status_after(503, secs(1)),
            Failure::Connect,
            Failure::Timeout { sent: false },
        ];
        for failure in safe {
            retry_after(decide(&policy(), true, 1, &failure, 0.0));
        }
        assert_eq!(
            retry_reason(decide(&policy(), true, 1, &Failure::Connect, 0.0)),
            "could not connect"
        );
    }

    #[test]
    fn unsafe_failures_stop_a_create_unless_allowed() {
        let cases = [
            (Failure::Timeout { sent: true }, "timed out after sending"),
            (Failure::Broken, "the connection broke after sending"),
            (status(500), "HTTP 500"),
            (status(503), "HTTP 503 without Retry-After"),
            (status_after(500, secs(1)), "HTTP 500"),
            (status_after(502, secs(1)), "HTTP 502"),
            (Failure::Expectation, "the server answered"),
        ];
        let allowed = RetryPolicy {
            allow_unsafe: true,
            ..policy()
        };
        for (failure, why) in cases {
            let reason = stop_reason(decide(&policy(), true, 1, &failure, 0.0));
            assert!(reason.starts_with("not retried: "), "{failure:?}: {reason}");
            assert!(reason.contains(why), "{failure:?}: {reason}");
            assert!(
                reason.ends_with("set `retry.unsafe: true` to retry anyway"),
                "{failure:?}: {reason}"
            );
            retry_after(decide(&allowed, true, 1, &failure, 0.0));
            // A request that creates nothing is retried on the same failure.
            retry_after(decide(&policy(), false, 1, &failure, 0.0));
        }
    }

    #[test]
    fn exponential_backoff_doubles_up_to_the_cap() {
        let delays: Vec<Duration> = (1..=7)
            .map(|attempt| {
                let p = RetryPolicy {
                    attempts: 10,
                    ..policy()
                };
                retry_after(decide(&p, false, attempt, &status(500), 0.0))
            })
            .collect();
        assert_eq!(
            delays,
            [1, 2, 4, 8, 16, 30, 30].map(secs).to_vec(),
            "1s doubling, capped at 30s"
        );
    }

    #[test]
    fn exponential_backoff_saturates_instead_of_overflowing() {
        let p = RetryPolicy {
            attempts: u32::MAX,
            initial: Duration::MAX / 4,
            max: secs(60),
            ..policy()
        };
        for attempt in [2, 33, 64, u32::MAX - 1] {
            assert_eq!(
                retry_after(decide(&p, false, attempt, &status(500), 0.0)),
                secs(60),
                "attempt {attempt}"
            );
        }
        // A tiny start still doubles exactly past 2^32, where a u32 factor would overflow.
        let p = RetryPolicy {
            initial: Duration::from_nanos(1),
            max: secs(3_600),
            ..p
        };
        assert_eq!(
            retry_after(decide(&p, false, 34, &status(500), 0.0)),
            Duration::from_nanos(1 << 33)
        );
        assert_eq!(
            retry_after(decide(&p, false, 200, &status(500), 0.0)),
            secs(3_600)
        );
        // A zero start stays zero (and does not loop for billions of attempts).
        let p = RetryPolicy {
            initial: Duration::ZERO,
            ..p
        };
        assert_eq!(
            retry_after(decide(&p, false, u32::MAX - 1, &status(500), 0.0)),
            Duration::ZERO
        );
    }

    #[test]
    fn fixed_backoff_waits_initial_every_time() {
        let p = RetryPolicy {
            attempts: 10,
            backoff: Backoff::Fixed,
            initial: Duration::from_millis(1_500),
            ..policy()
        };
        for attempt in 1..10 {
            assert_eq!(
                retry_after(decide(&p, false, attempt, &Failure::Connect, 0.0)),
                Duration::from_millis(1_500)
            );
        }
        // `max` still caps a fixed delay.
        let p = RetryPolicy {
            initial: secs(45),
            ..p
        };
        assert_eq!(
            retry_after(decide(&p, false, 1, &Failure::Connect, 0.0)),
            secs(30)
        );
    }

    #[test]
    fn equal_jitter_stays_between_half_and_the_whole_delay() {
        let p = RetryPolicy {
            attempts: 10,
            jitter: true,
            ..policy()
        };
        // Attempt 4: an 8s delay.
        let at = |draw: f64| retry_after(decide(&p, false, 4, &Failure::Connect, draw));
        assert_eq!(at(0.0), secs(4));
        assert_eq!(at(0.5), secs(6));
        let near_one = at(0.999_999);
        assert!(
            near_one < secs(8) && near_one > Duration::from_millis(7_999),
            "{near_one:?}"
        );
        // Draws outside [0, 1) are clamped, never panic or go below half.
        for draw in [-1.0, 1.5, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let d = at(draw);
            assert!(d >= secs(4) && d <= secs(8), "{draw}: {d:?}");
        }
        // Jitter applies after the cap: capped at 30s, so 15s..30s.
        let capped = retry_after(decide(&p, false, 9, &Failure::Connect, 0.0));
        assert_eq!(capped, secs(15));
    }

    #[test]
    fn retry_reasons_are_short() {
        let p = policy();
        let reason = |f: Failure| retry_reason(decide(&p, false, 1, &f, 0.0));
        assert_eq!(
            reason(status_after(503, secs(2))),
            "HTTP 503, Retry-After 2 s"
        );
        assert_eq!(reason(status(429)), "HTTP 429");
        assert_eq!(reason(Failure::Timeout { sent: true }), "timed out");
        assert_eq!(
            reason(Failure::Timeout { sent: false }),
            "timed out connecting"
        );
        assert_eq!(reason(Failure::Connect), "could not connect");
        assert_eq!(reason(Failure::Broken), "connection broke");
        assert_eq!(reason(Failure::Expectation), "expectation not met");
    }
}
