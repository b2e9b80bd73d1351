//! Pacing: a provider's requests are spaced so that its rate limit is never reached, with slots
//! granted strictly in arrival order.
//!
//! A GCRA (generic cell rate algorithm): each request is due one `period` (`per / requests`)
//! after the previous one, and `burst` requests may go at once when the budget has built up.
//! Written here rather than taken from `governor` because a campaign needs what governor does not
//! give: slots in arrival order (governor's waiters race, so one row can starve while later ones
//! go), the queue time of each request (reports tell it apart from the provider's own time, and
//! step timeouts leave it out), and checked arithmetic for any period a plan can state.

use std::time::Duration;

// tokio's clock: the same one the sleeps use (and that tests can pause).
use tokio::time::Instant;

/// A provider's pacer.
#[derive(Debug)]
pub struct Pacer {
    /// Time between two requests at the steady rate.
    period: Duration,
    /// How far ahead of the steady rate a burst may run: `(burst - 1) × period`.
    tolerance: Duration,
    /// The theoretical arrival time of the next request (GCRA's TAT); a tokio mutex, which
    /// hands itself out in the order it was asked for: the slots follow arrival order.
    next: tokio::sync::Mutex<Option<Instant>>,
}

impl Pacer {
    /// `requests` per `per`, `burst` of them at once at most; `None` when that is no limit
    /// at all.
    pub fn new(requests: u32, per: Duration, burst: u32) -> Option<Pacer> {
        let period = per.checked_div(requests.max(1))?;
        if period.is_zero() {
            return None;
        }
        let tolerance = period
            .checked_mul(burst.max(1) - 1)
            .unwrap_or(Duration::MAX);
        Some(Pacer {
            period,
            tolerance,
            next: tokio::sync::Mutex::new(None),
        })
    }

    /// The time between requests at the steady rate.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Waits for this request's slot (first come, first served); returns how long it waited.
    pub async fn slot(&self) -> Duration {
        let asked = Instant::now();
        let mut next = self.next.lock().await;
        let now = Instant::now();
        let due = next.map_or(now, |t| t.max(now));
        // The request may go `tolerance` ahead of its due time (a burst).
        let at = due.checked_sub(self.tolerance).map_or(now, |t| t.max(now));
        if at > now {
            tokio::time::sleep_until(at).await;
        }
        // Far past any run's end when it would overflow: the limit holds, nothing panics.
        *next = Some(due.checked_add(self.period).unwrap_or(due));
        asked.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_limits_make_no_pacer_or_a_slow_one_and_never_panic() {
        assert!(Pacer::new(1, Duration::ZERO, 1).is_none());
        assert!(Pacer::new(u32::MAX, Duration::from_nanos(1), 1).is_none());
        let slow = Pacer::new(1, Duration::MAX, u32::MAX).expect("a pacer");
        assert_eq!(slow.period(), Duration::MAX);
    }

    #[tokio::test(start_paused = true)]
    async fn requests_are_spaced_by_the_period_after_the_burst() {
        let pacer = Pacer::new(10, Duration::from_secs(1), 3).expect("a pacer");
        let start = Instant::now();
        let mut at = Vec::new();
        for _ in 0..6 {
            pacer.slot().await;
            at.push(start.elapsed().as_millis());
        }
        // Three at once (the burst), then one every 100 ms.
        assert_eq!(at, vec![0, 0, 0, 100, 200, 300]);
    }

    #[tokio::test(start_paused = true)]
    async fn slots_are_granted_in_arrival_order() {
        let pacer =
            std::sync::Arc::new(Pacer::new(1, Duration::from_millis(100), 1).expect("a pacer"));
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
        let pacer = Pacer::new(1, Duration::from_millis(250), 1).expect("a pacer");
        assert_eq!(pacer.slot().await, Duration::ZERO);
        assert_eq!(pacer.slot().await, Duration::from_millis(250));
    }
}
