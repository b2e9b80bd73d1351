//! Rate limits per access token, as Genesys Cloud applies them (300 requests a minute per
//! client-credentials token by default).
//!
//! The limit is a GCRA (governor's keyed limiter): `requests` per `per`, refilled evenly, with
//! bursts of up to `burst`. A request over the limit learns how long to wait, which becomes
//! the 429's `Retry-After`.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use super::config::{Config, RateLimit};

type Limiter = DefaultKeyedRateLimiter<String>;

/// The two vendors' limiters.
#[derive(Debug)]
pub(super) struct Limits {
    genesys: Option<RateLimit>,
    cxone: Option<RateLimit>,
    limiters: RwLock<Pair>,
}

/// The live limiters (replaced on reset).
#[derive(Debug)]
struct Pair {
    genesys: Option<Arc<Limiter>>,
    cxone: Option<Arc<Limiter>>,
}

/// A request over the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Exceeded {
    /// Requests allowed per period.
    pub(super) requests: u32,
    /// The period, in whole seconds.
    pub(super) per_seconds: u64,
    /// Seconds until a request would be allowed (at least 1).
    pub(super) retry_after: u64,
}

fn limiter(limit: &Option<RateLimit>) -> Option<Arc<Limiter>> {
    let limit = limit.as_ref()?;
    let burst = std::num::NonZeroU32::new(limit.burst.unwrap_or(limit.requests))?;
    // governor multiplies the period by the burst in 64-bit nanoseconds (unchecked): keep the
    // product representable whatever the limit (a configuration read from a file is bounded
    // already; one built in code need not be).
    let longest = Duration::from_nanos(u64::MAX / u64::from(burst.get()) / 2);
    let period = (limit.per / limit.requests.max(1)).min(longest);
    let quota = Quota::with_period(period.max(Duration::from_nanos(1)))?.allow_burst(burst);
    Some(Arc::new(Limiter::keyed(quota)))
}

impl Limits {
    pub(super) fn new(config: &Config) -> Limits {
        let genesys = config.genesys.rate_limit.clone();
        let cxone = config.cxone.rate_limit.clone();
        Limits {
            limiters: RwLock::new(Pair {
                genesys: limiter(&genesys),
                cxone: limiter(&cxone),
            }),
            genesys,
            cxone,
        }
    }

    pub(super) fn reset(&self) {
        *self
            .limiters
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Pair {
            genesys: limiter(&self.genesys),
            cxone: limiter(&self.cxone),
        };
    }

    fn check(
        &self,
        pick: fn(&Pair) -> Option<Arc<Limiter>>,
        limit: &Option<RateLimit>,
        token: &str,
    ) -> Result<(), Exceeded> {
        let limiter = pick(&self.limiters.read().unwrap_or_else(PoisonError::into_inner));
        let (Some(limiter), Some(limit)) = (limiter, limit) else {
            return Ok(());
        };
        let key = token.to_owned();
        limiter.check_key(&key).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            Exceeded {
                requests: limit.requests,
                per_seconds: limit.per.as_secs().max(1),
                retry_after: wait.as_secs_f64().ceil().max(1.0) as u64,
            }
        })
    }

    /// Counts a Genesys request made with `token`.
    pub(super) fn genesys(&self, token: &str) -> Result<(), Exceeded> {
        self.check(|l| l.genesys.clone(), &self.genesys, token)
    }

    /// Counts a CXone request made with `token`.
    pub(super) fn cxone(&self, token: &str) -> Result<(), Exceeded> {
        self.check(|l| l.cxone.clone(), &self.cxone, token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_built_in_code_past_every_bound_still_limits_without_panicking() {
        let mut config = Config::default();
        config.genesys.rate_limit = Some(RateLimit {
            requests: 1,
            per: Duration::MAX,
            burst: Some(u32::MAX),
        });
        let limits = Limits::new(&config);
        limits.genesys("a").expect("the first request goes");
    }

    #[test]
    fn a_token_over_its_limit_is_told_how_long_to_wait() {
        let mut config = Config::default();
        config.genesys.rate_limit = Some(RateLimit {
            requests: 3,
            per: Duration::from_secs(60),
            burst: None,
        });
        let limits = Limits::new(&config);
        for _ in 0..3 {
            limits.genesys("a").unwrap();
        }
        let exceeded = limits.genesys("a").unwrap_err();
        assert_eq!(exceeded.requests, 3);
        assert_eq!(exceeded.per_seconds, 60);
        assert!((19..=20).contains(&exceeded.retry_after), "{exceeded:?}");
        limits.genesys("b").expect("each token has its own budget");
        assert!(limits.cxone("a").is_ok(), "no CXone limit by default");
        limits.reset();
        limits.genesys("a").expect("reset refills");
    }
}
