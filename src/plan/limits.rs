//! The bounds of every duration and count a plan or a `run` flag can state, in one place.
//!
//! `check` refuses a value outside them where it is written (the counts through the JSON
//! Schema, the durations when the model is built), and `docs/plan-format.md` lists them. The
//! runtime does not rely on them: its arithmetic is checked anyway, so a value that got past
//! them cannot make it panic. The maximums are far above any real plan's needs and far below
//! what the clocks and counters can hold.

use std::time::Duration;

use crate::duration::Bound;

const HOUR: Duration = Duration::from_secs(3_600);
const DAY: Duration = Duration::from_secs(86_400);

/// A step's, a provider's or `defaults.timeout`.
pub(crate) const TIMEOUT: Bound = Bound::positive("a timeout", DAY);
/// A duration of an action's `with:` (a wait's `timeout`, a poll `interval`).
pub(crate) const WITH: Bound = Bound::positive("a duration of `with:`", DAY);
/// `rate_limit.per`.
pub(crate) const RATE_PERIOD: Bound = Bound::positive("a rate limit's period", DAY);
/// A provider's `reconcile_delay`.
pub(crate) const RECONCILE_DELAY: Bound = Bound::positive("a reconciliation delay", DAY);
/// A retry's `initial` and `max` delays.
pub(crate) const RETRY_DELAY: Bound = Bound::positive("a retry delay", HOUR);
/// `run --timeout`: the whole run's budget.
pub(crate) const RUN_TIMEOUT: Bound =
    Bound::positive("`--timeout`", Duration::from_secs(7 * 86_400));
/// `run --cleanup-timeout`: what the `always` steps may take after a signal.
pub(crate) const CLEANUP_TIMEOUT: Bound = Bound::positive("`--cleanup-timeout`", HOUR);

/// `rate_limit.requests`: at least one request per period, at most this many.
pub(crate) const MAX_REQUESTS: u32 = 100_000;
/// `guard.max_calls`: at most this many calls in one run.
pub(crate) const MAX_CALLS: u64 = 1_000_000;
/// `retry.attempts`, the first included.
pub(crate) const MAX_ATTEMPTS: u32 = 100;
/// A `for_each` step's `concurrency`.
pub(crate) const MAX_CONCURRENCY: u32 = 256;

/// Every duration bound, for the documentation test.
#[cfg(test)]
pub(crate) const DURATIONS: &[Bound] = &[
    TIMEOUT,
    WITH,
    RATE_PERIOD,
    RECONCILE_DELAY,
    RETRY_DELAY,
    RUN_TIMEOUT,
    CLEANUP_TIMEOUT,
];

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/plan-format.md states every maximum as a plan writes it.
    #[test]
    fn the_plan_format_documents_every_maximum() {
        let doc = include_str!("../../docs/plan-format.md");
        let section = doc
            .split("## Limits")
            .nth(1)
            .expect("docs/plan-format.md has a `## Limits` section");
        for bound in DURATIONS {
            let max = crate::duration::written(bound.max);
            assert!(
                section.contains(&format!("`{max}`")),
                "{}: `{max}` is not in the Limits section",
                bound.what
            );
        }
        for n in [
            MAX_REQUESTS.to_string(),
            MAX_CALLS.to_string(),
            MAX_ATTEMPTS.to_string(),
            MAX_CONCURRENCY.to_string(),
        ] {
            assert!(section.contains(&n), "{n} is not in the Limits section");
        }
    }
}
