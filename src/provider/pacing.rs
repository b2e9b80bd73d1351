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

/// A provider's pacer.
#[derive(Debug)]
pub struct Pacer {
    /// How many requests a window may hold.
    requests: usize,
    /// The window: the limit's period and a margin.
    window: Duration,
    /// When the last `requests` requests left, oldest first; a tokio mutex, which hands itself
    /// out in the order it was asked for: the slots follow arrival order.
    sent: tokio::sync::Mutex<VecDeque<Instant>>,
}

impl Pacer {
    /// `requests` per `per`; `None` when that is no limit at all (no time to count them in).
    pub fn new(requests: u32, per: Duration) -> Option<Pacer> {
        if per.is_zero() {
            return None;
        }
        let margin = (per / 50).min(MAX_MARGIN);
        Some(Pacer {
            requests: usize::try_from(requests.max(1)).unwrap_or(usize::MAX),
            window: per.checked_add(margin).unwrap_or(Duration::MAX),
            sent: tokio::sync::Mutex::new(VecDeque::new()),
        })
    }

    /// The window requests are counted in (the period and its margin).
    pub fn window(&self) -> Duration {
        self.window
    }

    /// Waits for this request's slot (first come, first served); returns how long it waited.
    pub async fn slot(&self) -> Duration {
        let asked = Instant::now();
        let mut sent = self.sent.lock().await;
        if sent.len() >= self.requests
            && let Some(oldest) = sent.pop_front()
        {
            // Past any clock when it would overflow: this request waits for ever, and the limit
            // holds (a period that long is refused by `check` anyway).
            match oldest.checked_add(self.window) {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending::<()>().await,
            }
        }
        sent.push_back(Instant::now());
        asked.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_limits_make_no_pacer_or_a_slow_one_and_never_panic() {
        assert!(Pacer::new(1, Duration::ZERO).is_none());
        let slow = Pacer::new(1, Duration::MAX).expect("a pacer");
        assert_eq!(slow.window(), Duration::MAX);
        let fast = Pacer::new(u32::MAX, Duration::from_nanos(1)).expect("a pacer");
        assert_eq!(fast.window(), Duration::from_nanos(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_plan_within_the_budget_never_waits() {
        let pacer = Pacer::new(300, Duration::from_secs(60)).expect("a pacer");
        for _ in 0..8 {
            assert_eq!(pacer.slot().await, Duration::ZERO);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn no_window_of_the_period_holds_more_than_the_limit() {
        // 10 a second, 95 requests as fast as the pacer lets them go.
        let pacer = Pacer::new(10, Duration::from_secs(1)).expect("a pacer");
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
    async fn slots_are_granted_in_arrival_order() {
        let pacer =
            std::sync::Arc::new(Pacer::new(1, Duration::from_millis(100)).expect("a pacer"));
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
        let pacer = Pacer::new(1, Duration::from_millis(250)).expect("a pacer");
        assert_eq!(pacer.slot().await, Duration::ZERO);
        assert_eq!(pacer.slot().await, Duration::from_millis(255));
    }
}
