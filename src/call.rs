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
pub(crate) fn timestamp(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
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
}
