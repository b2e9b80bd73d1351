//! Scripted call outcomes: what happens to a call, decided by the number it dials.
//!
//! Every call the sandbox places follows a timeline picked from its destination (the table in
//! `docs/sandbox.md`). Timelines are written in "virtual" time and multiplied by the configured
//! time scale, so a test can watch a whole call ring, connect and end in milliseconds. A call's
//! state is computed from its timeline and the clock whenever someone asks, so nothing has to
//! run in the background and the same requests at the same moments always see the same states.

use std::time::{Duration, Instant, SystemTime};

// The call vocabulary is shared with the runner and the reports; the sandbox's public paths keep
// naming it here.
pub use crate::call::{EndReason, Phase};

/// A virtual duration in real time: `d` times the time scale, saturating instead of panicking
/// whatever the scale (a configuration is validated, a [`crate::sandbox::Config`] built in code
/// need not be).
pub(crate) fn scaled(d: Duration, scale: f64) -> Duration {
    Duration::try_from_secs_f64(d.as_secs_f64() * scale).unwrap_or(if scale > 0.0 {
        Duration::MAX
    } else {
        Duration::ZERO
    })
}

/// What the destination does with a call (the sandbox's scripted outcomes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Rings, connects, stays connected until someone hangs up (`…555-0100` and any number not
    /// listed).
    Answer,
    /// Busy (`…555-0101`).
    Busy,
    /// Rings until the ring timeout, nobody answers (`…555-0102`).
    NoAnswer,
    /// Invalid or unreachable number: the call fails (`…555-0103`).
    Invalid,
    /// Connects, then the customer hangs up (`…555-0104`).
    CustomerHangup,
    /// The caller's own leg (an agent's station): connected at once, until the call ends.
    Station,
}

// Timelines, in virtual milliseconds from the moment the call is placed.
const ALERT_AT: u64 = 500;
const CONNECT_AT: u64 = 3_000;
const BUSY_AT: u64 = 1_000;
const INVALID_AT: u64 = 500;
/// How long an unanswered call rings before the network gives up.
const RING_TIMEOUT_AT: u64 = 30_500;
/// When the customer of `…555-0104` hangs up (ten seconds of talk).
const HANGUP_AT: u64 = 13_000;

impl Outcome {
    /// The outcome scripted for a destination: the last seven digits pick it.
    pub fn for_destination(address: &str) -> Outcome {
        let digits: String = address.chars().filter(char::is_ascii_digit).collect();
        let tail = digits.get(digits.len().saturating_sub(7)..).unwrap_or("");
        match tail {
            "5550101" => Outcome::Busy,
            "5550102" => Outcome::NoAnswer,
            "5550103" => Outcome::Invalid,
            "5550104" => Outcome::CustomerHangup,
            _ => Outcome::Answer,
        }
    }

    /// (alerting, connected, scripted end) in virtual milliseconds.
    fn timeline(self) -> (Option<u64>, Option<u64>, Option<(u64, EndReason)>) {
        match self {
            Outcome::Answer => (Some(ALERT_AT), Some(CONNECT_AT), None),
            Outcome::Busy => (None, None, Some((BUSY_AT, EndReason::Busy))),
            Outcome::NoAnswer => (
                Some(ALERT_AT),
                None,
                Some((RING_TIMEOUT_AT, EndReason::NoAnswer)),
            ),
            Outcome::Invalid => (None, None, Some((INVALID_AT, EndReason::Invalid))),
            Outcome::CustomerHangup => (
                Some(ALERT_AT),
                Some(CONNECT_AT),
                Some((HANGUP_AT, EndReason::CustomerHangup)),
            ),
            Outcome::Station => (None, Some(0), None),
        }
    }
}

/// One call leg: its outcome, when it was placed, and how it ended if someone ended it.
#[derive(Debug, Clone)]
pub struct Leg {
    /// The scripted outcome.
    pub outcome: Outcome,
    /// When it was placed (monotonic).
    pub placed: Instant,
    /// When it was placed (wall clock, for the timestamps clients see).
    pub placed_wall: SystemTime,
    scale: f64,
    /// Ended from outside (hang-up, teardown), as an offset from `placed`.
    ended: Option<(Duration, EndReason)>,
}

/// A leg's state at one moment; offsets are real time from the moment it was placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    /// The phase now.
    pub phase: Phase,
    /// When it started ringing, if it has.
    pub alerting_at: Option<Duration>,
    /// When it connected, if it has.
    pub connected_at: Option<Duration>,
    /// When and why it ended, if it has.
    pub ended: Option<(Duration, EndReason)>,
}

impl Leg {
    /// A leg placed now.
    pub fn new(outcome: Outcome, scale: f64) -> Leg {
        Leg {
            outcome,
            placed: Instant::now(),
            placed_wall: SystemTime::now(),
            scale,
            ended: None,
        }
    }

    fn real(&self, virtual_ms: u64) -> Duration {
        scaled(Duration::from_millis(virtual_ms), self.scale)
    }

    /// The scripted moments, in real offsets, with an outside end folded in.
    fn moments(
        &self,
    ) -> (
        Option<Duration>,
        Option<Duration>,
        Option<(Duration, EndReason)>,
    ) {
        let (alert, connect, end) = self.outcome.timeline();
        let scripted_end = end.map(|(ms, why)| (self.real(ms), why));
        let end = match (scripted_end, self.ended) {
            (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
            (a, b) => a.or(b),
        };
        let before_end = |t: Duration| end.is_none_or(|(e, _)| t < e);
        let alert = alert.map(|ms| self.real(ms)).filter(|t| before_end(*t));
        let connect = connect
            .map(|ms| self.real(ms))
            .filter(|t| before_end(*t) || t.is_zero());
        (alert, connect, end)
    }

    /// The leg's state at `now`.
    pub fn at(&self, now: Instant) -> Snapshot {
        let elapsed = now.saturating_duration_since(self.placed);
        let (alert, connect, end) = self.moments();
        let seen = |t: Option<Duration>| t.filter(|t| *t <= elapsed);
        let ended = end.filter(|(t, _)| *t <= elapsed);
        let connected_at = seen(connect);
        let alerting_at = seen(alert);
        let phase = if ended.is_some() {
            Phase::Disconnected
        } else if connected_at.is_some() {
            Phase::Connected
        } else if alerting_at.is_some() {
            Phase::Alerting
        } else {
            Phase::Dialing
        };
        Snapshot {
            phase,
            alerting_at,
            connected_at,
            ended,
        }
    }

    /// The next moment after `now` at which the leg's phase changes.
    pub fn next_change(&self, now: Instant) -> Option<Instant> {
        let elapsed = now.saturating_duration_since(self.placed);
        let (alert, connect, end) = self.moments();
        [alert, connect, end.map(|(t, _)| t)]
            .into_iter()
            .flatten()
            .filter(|t| *t > elapsed)
            .min()
            .and_then(|t| self.placed.checked_add(t))
    }

    /// Ends the leg at `now` unless it already ended; returns whether it was still up.
    pub fn end(&mut self, now: Instant, why: EndReason) -> bool {
        if self.at(now).phase == Phase::Disconnected {
            return false;
        }
        self.ended = Some((now.saturating_duration_since(self.placed), why));
        true
    }

    /// The wall-clock time of an offset from the moment the leg was placed.
    pub fn wall(&self, offset: Duration) -> SystemTime {
        crate::duration::saturating_deadline(self.placed_wall, offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_seven_digits_pick_the_outcome() {
        assert_eq!(Outcome::for_destination("+13175550100"), Outcome::Answer);
        assert_eq!(Outcome::for_destination("tel:+13175550101"), Outcome::Busy);
        assert_eq!(
            Outcome::for_destination("+1 (317) 555-0102"),
            Outcome::NoAnswer
        );
        assert_eq!(Outcome::for_destination("3175550103"), Outcome::Invalid);
        assert_eq!(
            Outcome::for_destination("+13175550104"),
            Outcome::CustomerHangup
        );
        assert_eq!(Outcome::for_destination("+442079460000"), Outcome::Answer);
        assert_eq!(Outcome::for_destination(""), Outcome::Answer);
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn an_answered_call_rings_connects_and_stays_up_until_ended() {
        let mut leg = Leg::new(Outcome::Answer, 1.0);
        let t0 = leg.placed;
        assert_eq!(leg.at(t0).phase, Phase::Dialing);
        assert_eq!(leg.at(t0 + ms(600)).phase, Phase::Alerting);
        assert_eq!(leg.at(t0 + ms(3_000)).phase, Phase::Connected);
        assert_eq!(leg.at(t0 + ms(3_600_000)).phase, Phase::Connected);
        assert_eq!(leg.next_change(t0 + ms(600)), Some(t0 + ms(3_000)));
        assert_eq!(leg.next_change(t0 + ms(4_000)), None);
        assert!(leg.end(t0 + ms(5_000), EndReason::Client));
        let end = leg.at(t0 + ms(5_000));
        assert_eq!(end.phase, Phase::Disconnected);
        assert_eq!(end.ended, Some((ms(5_000), EndReason::Client)));
        assert_eq!(end.connected_at, Some(ms(3_000)));
        assert!(!leg.end(t0 + ms(6_000), EndReason::Forced), "ends once");
    }

    #[test]
    fn the_time_scale_shrinks_every_moment() {
        let leg = Leg::new(Outcome::CustomerHangup, 0.001);
        let t0 = leg.placed;
        assert_eq!(leg.at(t0 + ms(3)).phase, Phase::Connected);
        let end = leg.at(t0 + ms(13));
        assert_eq!(end.phase, Phase::Disconnected);
        assert_eq!(end.ended.map(|e| e.1), Some(EndReason::CustomerHangup));
    }

    #[test]
    fn absurd_time_scales_neither_panic_nor_move_a_call() {
        for scale in [1e19, 1e300, f64::INFINITY, f64::NAN, 0.0, -1.0] {
            let leg = Leg::new(Outcome::CustomerHangup, scale);
            let t0 = leg.placed;
            let later = t0 + ms(60_000);
            let at = leg.at(later);
            assert!(
                matches!(at.phase, Phase::Dialing | Phase::Disconnected),
                "{scale}: {at:?}"
            );
            let _ = leg.next_change(t0);
            let _ = leg.wall(Duration::MAX);
        }
        assert_eq!(scaled(ms(3_000), 1e19), Duration::MAX);
        assert_eq!(scaled(ms(3_000), 0.001), ms(3));
    }

    #[test]
    fn failed_calls_never_connect() {
        for (outcome, why, at) in [
            (Outcome::Busy, EndReason::Busy, 1_000),
            (Outcome::NoAnswer, EndReason::NoAnswer, 30_500),
            (Outcome::Invalid, EndReason::Invalid, 500),
        ] {
            let leg = Leg::new(outcome, 1.0);
            let t0 = leg.placed;
            assert_eq!(
                leg.at(t0 + ms(at - 1)).phase.max(Phase::Alerting),
                Phase::Alerting
            );
            let end = leg.at(t0 + ms(at));
            assert_eq!(end.phase, Phase::Disconnected, "{outcome:?}");
            assert_eq!(end.ended.map(|e| e.1), Some(why));
            assert_eq!(end.connected_at, None);
        }
    }

    #[test]
    fn ending_a_ringing_call_cancels_its_answer() {
        let mut leg = Leg::new(Outcome::Answer, 1.0);
        let t0 = leg.placed;
        leg.end(t0 + ms(1_000), EndReason::Client);
        let later = leg.at(t0 + ms(10_000));
        assert_eq!(later.phase, Phase::Disconnected);
        assert_eq!(later.connected_at, None);
        assert_eq!(later.alerting_at, Some(ms(500)));
    }
}
