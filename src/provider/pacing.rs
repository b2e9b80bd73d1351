//! Pacing: a provider's requests never exceed its rate limit in any window of the limit's
//! period, and cost nothing until they would: slots are granted strictly in arrival order.
//!
//! A sliding-window log: the pacer remembers when each of the last `requests` requests left,
//! and a request may leave once the one `requests` places before it is a window old. A plan
//! whose requests fit the budget (a smoke dial's handful against 300 a minute) never waits; a
//! campaign runs at the full rate, `requests` per window, and no window of the period, wherever
//! it starts, holds more than `requests` of them: what a vendor counts ("the maximum [300]
//! requests within [60] seconds").
//!
//! The window is the period plus a margin (a fiftieth of it, at most a second): a request sent
//! at the very end of one window may arrive at the provider a moment after one sent earlier,
//! and the provider counts arrivals, not departures.
//!
//! A limit may also give a `burst`: the most requests the provider takes at once. Then requests
//! beyond the burst are also spaced at the steady rate (`per / requests` apart, a GCRA), for
//! providers that refill their budget evenly rather than count it per window; one request of
//! the burst is kept in hand, and the spacing has the window's margin.
//!
//! Written here rather than taken from `governor` because a campaign needs what governor does not
//! give: slots in arrival order (governor's waiters race, so one row can starve while later ones
//! go), the queue time of each request (reports tell it apart from the provider's own time, and
//! step timeouts leave it out), a window count rather than a cell rate, and checked arithmetic for
//! any period a plan can state.

use std::collections::VecDeque;
use std::time::Duration;

// tokio's clock: the same one the sleeps use (and that tests can pause).
use tokio::time::Instant;

/// The longest margin added to a window.
const MAX_MARGIN: Duration = Duration::from_secs(1);

/// A provider's rate limit, as the plan states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// At most this many requests…
    pub requests: u32,
    /// …in any window this long.
    pub per: Duration,
    /// At most this many at once, the rest at the steady rate; `None`: as many as the window
    /// allows.
    pub burst: Option<u32>,
}

/// A provider's pacer.
#[derive(Debug)]
pub struct Pacer {
    /// How many requests a window may hold.
    requests: usize,
    /// The window: the limit's period and a margin.
    window: Duration,
    /// With a burst: the steady rate's spacing, and how far ahead of it a burst may run.
    spacing: Option<(Duration, Duration)>,
    /// The state, behind a tokio mutex, which hands itself out in the order it was asked for:
    /// the slots follow arrival order.
    state: tokio::sync::Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// When the last `requests` requests left, oldest first.
    sent: VecDeque<Instant>,
    /// With a burst: when the next request is due at the steady rate (GCRA's TAT).
    due: Option<Instant>,
}

impl Pacer {
    /// A pacer for `limit`; `None` when that is no limit at all (no time to count in).
    pub fn new(limit: Limit) -> Option<Pacer> {
        let Limit {
            requests,
            per,
            burst,
        } = limit;
        if per.is_zero() {
            return None;
        }
        let margin = (per / 50).min(MAX_MARGIN);
        // One request of the provider's burst is kept in hand, and the spacing has the window's
        // margin: requests that bunch up on the way never make the provider see more at once
        // than it takes.
        let spacing = burst.and_then(|burst| {
            let period = per.checked_div(requests.max(1))?;
            let period = period.checked_add(period / 50)?;
            let tolerance = period
                .checked_mul(burst.saturating_sub(2))
                .unwrap_or(Duration::MAX);
            (!period.is_zero()).then_some((period, tolerance))
        });
        Some(Pacer {
            requests: usize::try_from(requests.max(1)).unwrap_or(usize::MAX),
            window: per.checked_add(margin).unwrap_or(Duration::MAX),
            spacing,
            state: tokio::sync::Mutex::new(State::default()),
        })
    }

    /// The window requests are counted in (the period and its margin).
    pub fn window(&self) -> Duration {
        self.window
    }

    /// Waits for this request's slot (first come, first served); returns how long it waited.
    pub async fn slot(&self) -> Duration {
        let asked = Instant::now();
        let mut state = self.state.lock().await;
        // Only the requests of the last window count: the log holds no more than those.
        let now = Instant::now();
        while state
            .sent
            .front()
            .is_some_and(|t| t.checked_add(self.window).is_some_and(|end| end <= now))
        {
            state.sent.pop_front();
        }
        if state.sent.len() >= self.requests
            && let Some(oldest) = state.sent.front().copied()
        {
            // Forgotten only once the wait is over: a caller cancelled while it waits (a
            // timeout, a signal) leaves the log as it was, and the next one waits as long.
            until(oldest.checked_add(self.window)).await;
            state.sent.pop_front();
        }
        if let Some((period, tolerance)) = self.spacing {
            let now = Instant::now();
            let due = state.due.map_or(now, |t| t.max(now));
            // The request may go `tolerance` ahead of its due time (the burst).
            if let Some(at) = due.checked_sub(tolerance).filter(|at| *at > now) {
                tokio::time::sleep_until(at).await;
            }
            state.due = due.checked_add(period).or(Some(due));
        }
        state.sent.push_back(Instant::now());
        asked.elapsed()
    }
}

/// Sleeps until `at`; for ever when it is past any clock (a period that long is refused by
/// `check`; the limit holds anyway, and nothing overflows).
async fn until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending::<()>().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(requests: u32, per: Duration) -> Limit {
        Limit {
            requests,
            per,
            burst: None,
        }
    }

    #[test]
    fn absurd_limits_make_no_pacer_or_a_slow_one_and_never_panic() {
        assert!(Pacer::new(limit(1, Duration::ZERO)).is_none());
        let slow = Pacer::new(limit(1, Duration::MAX)).expect("a pacer");
        assert_eq!(slow.window(), Duration::MAX);
        let fast = Pacer::new(limit(u32::MAX, Duration::from_nanos(1))).expect("a pacer");
        assert_eq!(fast.window(), Duration::from_nanos(1));
        let bursty = Limit {
            burst: Some(u32::MAX),
            ..limit(1, Duration::MAX)
        };
        assert!(Pacer::new(bursty).is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_goes_at_once_and_the_rest_at_the_steady_rate() {
        // A burst of 4 with one kept in hand: 3 at once, then one every 102 ms.
        let pacer = Pacer::new(Limit {
            burst: Some(4),
            ..limit(10, Duration::from_secs(1))
        })
        .expect("a pacer");
        let start = Instant::now();
        let mut at = Vec::new();
        for _ in 0..6 {
            pacer.slot().await;
            at.push(start.elapsed().as_millis());
        }
        assert_eq!(at, vec![0, 0, 0, 102, 204, 306]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_plan_within_the_budget_never_waits() {
        let pacer = Pacer::new(limit(300, Duration::from_secs(60))).expect("a pacer");
        for _ in 0..8 {
            assert_eq!(pacer.slot().await, Duration::ZERO);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn no_window_of_the_period_holds_more_than_the_limit() {
        // 10 a second, 95 requests as fast as the pacer lets them go.
        let pacer = Pacer::new(limit(10, Duration::from_secs(1))).expect("a pacer");
        let start = Instant::now();
        let mut at = Vec::new();
        for _ in 0..95 {
            pacer.slot().await;
            at.push(start.elapsed());
        }
        for (i, first) in at.iter().enumerate() {
            let within = at[i..]
                .iter()
                .take_while(|t| **t - *first <= Duration::from_secs(1))
                .count();
            assert!(within <= 10, "{within} requests within 1 s of {first:?}");
        }
        // The full rate all the same: 10 a window of 1.02 s, the first 10 at once.
        assert_eq!(at[9], Duration::ZERO);
        assert_eq!(at[94], Duration::from_millis(9 * 1020));
    }

    #[tokio::test(start_paused = true)]
    async fn the_log_holds_only_the_last_window() {
        // A limit far above the rate: the log forgets what is older than a window.
        let pacer = Pacer::new(limit(1_000_000, Duration::from_secs(1))).expect("a pacer");
        for _ in 0..100 {
            pacer.slot().await;
            tokio::time::advance(Duration::from_millis(100)).await;
        }
        let held = pacer.state.lock().await.sent.len();
        assert!(held <= 11, "{held}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_caller_cancelled_while_it_waits_takes_no_slot_with_it() {
        let pacer = Pacer::new(limit(2, Duration::from_secs(3600))).expect("a pacer");
        pacer.slot().await;
        pacer.slot().await;
        // The third waits an hour; it gives up after a second.
        let cancelled = tokio::time::timeout(Duration::from_secs(1), pacer.slot()).await;
        assert!(cancelled.is_err());
        // The next one still waits for the window.
        let next = tokio::time::timeout(Duration::from_secs(60), pacer.slot()).await;
        assert!(next.is_err(), "the window still holds two requests");
    }

    #[tokio::test(start_paused = true)]
    async fn slots_are_granted_in_arrival_order() {
        let pacer =
            std::sync::Arc::new(Pacer::new(limit(1, Duration::from_millis(100))).expect("a pacer"));
        let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..8 {
            let (pacer, order) = (pacer.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                pacer.slot().await;
                order.lock().expect("not poisoned").push(i);
            }));
            // Each arrives after the one before.
            tokio::task::yield_now().await;
        }
        for t in tasks {
            t.await.expect("joined");
        }
        assert_eq!(
            *order.lock().expect("not poisoned"),
            (0..8).collect::<Vec<_>>()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_wait_is_reported() {
        let pacer = Pacer::new(limit(1, Duration::from_millis(250))).expect("a pacer");
        assert_eq!(pacer.slot().await, Duration::ZERO);
        assert_eq!(pacer.slot().await, Duration::from_millis(255));
    }
}
