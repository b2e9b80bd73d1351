//! The shared call-state vocabulary, and how instants are written.
//!
//! A call leg goes through the same [`Phase`]s on every platform and ends for one of a few
//! [`EndReason`]s; each vendor spells them its own way (Genesys participant states and disconnect
//! types, CXone contact statuses and disconnect codes). These are callplan's own words for them:
//! the sandbox emulates both vendors from them and its ledger reports in them. `timestamp` writes
//! an instant as both vendors do; the run context, the journal, the reports and the webhooks write
//! theirs the same way.
//!
//! This module is a leaf: it depends on nothing else in the crate.

use std::time::SystemTime;

/// The vendor-neutral phase of a call leg.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Being dialed.
    Dialing,
    /// Ringing at the destination.
    Alerting,
    /// Answered.
    Connected,
    /// Over.
    Disconnected,
}

/// Why a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// A client hung up through the API (as a participant or as the agent).
    Client,
    /// An administrator forced it to end (Genesys teardown, CXone `contacts/{id}/end`).
    Forced,
    /// The other side of the call went away first.
    Peer,
    /// The customer hung up.
    CustomerHangup,
    /// The destination was busy.
    Busy,
    /// Nobody answered.
    NoAnswer,
    /// The number is invalid or unreachable.
    Invalid,
}

/// An RFC 3339 timestamp with milliseconds, as both vendors write them.
///
/// Times come from the clock, but also from a journal being resumed, which may hold any date:
/// humantime panics before 1970 and fails after 9999, so the time is held between the two.
pub(crate) fn timestamp(t: SystemTime) -> String {
    let last = SystemTime::UNIX_EPOCH
        .checked_add(std::time::Duration::from_millis(253_402_300_799_999))
        .unwrap_or(SystemTime::UNIX_EPOCH);
    humantime::format_rfc3339_millis(t.clamp(SystemTime::UNIX_EPOCH, last)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_rfc3339_in_utc_with_milliseconds() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(timestamp(t), "2023-11-14T22:13:20.123Z");
    }

    #[test]
    fn any_time_gets_a_timestamp() {
        let before = SystemTime::UNIX_EPOCH - Duration::from_secs(60);
        assert_eq!(timestamp(before), "1970-01-01T00:00:00.000Z");
        let after = SystemTime::UNIX_EPOCH + Duration::from_secs(300_000_000_000);
        assert_eq!(timestamp(after), "9999-12-31T23:59:59.999Z");
    }
}
