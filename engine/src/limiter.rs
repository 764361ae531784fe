//! One adaptive limiter for every request the engine makes.
//!
//! Permits are owned ([`Permit`]) and held for one request attempt (the store wrapper takes
//! one per attempt), so one object's footer read and another's copy take turns on the same
//! connections rather than one object holding a permit through both.
//!
//! The limit starts at [`LimiterConfig::initial`] and probes upwards while nothing is
//! throttled: every success adds a permit (slow start, doubling the limit each round of
//! requests) up to [`LimiterConfig::max`]. The first throttling response ends the probe;
//! from then on the limit follows AIMD: each throttling response halves it (at most once per
//! [`LimiterConfig::decrease_interval`], so a burst of 503s from one wave of requests counts
//! once), and every `limit` successes add one permit back, up to the maximum. Shrinking never
//! revokes permits in flight: returned permits are retired until the debt is paid.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::metrics as names;

/// Limiter settings.
#[derive(Debug, Clone)]
pub struct LimiterConfig {
    /// Requests in flight at the start. Default 256: S3 sustains 3,500 copies/s per prefix
    /// and copies take tens of milliseconds, so a few hundred keep one client busy. Clamped
    /// to `min..=max`.
    pub initial: usize,
    /// Most requests in flight the probe may reach while nothing is throttled. Default 256,
    /// the starting limit: probing has no signal but throttling, so on a server that is the
    /// ceiling without throttling (measured: SeaweedFS on the client's cores) a higher
    /// maximum only adds server load and client memory (+18 MiB peak RSS at 512). Raise it
    /// for stores far away, where requests in flight, not the server, set the rate.
    pub max: usize,
    /// The limit never drops below this. Default 4.
    pub min: usize,
    /// Shortest time between two decreases. Default 250 ms.
    pub decrease_interval: Duration,
}

impl Default for LimiterConfig {
    fn default() -> Self {
        LimiterConfig {
            initial: 256,
            max: 256,
            min: 4,
            decrease_interval: Duration::from_millis(250),
        }
    }
}

#[derive(Debug)]
struct State {
    limit: usize,
    /// Permits to retire as they come back, to bring the semaphore down to `limit`.
    debt: usize,
    successes: usize,
    last_decrease: Option<Instant>,
    /// Probing upwards one permit per success: no throttling seen yet.
    slow_start: bool,
}

/// The adaptive limiter. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Limiter {
    sem: Arc<Semaphore>,
    state: Mutex<State>,
    config: LimiterConfig,
}

/// An owned permit; returning it may retire it when the limit has shrunk.
#[derive(Debug)]
pub struct Permit {
    permit: Option<OwnedSemaphorePermit>,
    limiter: Arc<Limiter>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let permit = self.permit.take().expect("permit present until drop");
        let mut state = self.limiter.state.lock().unwrap();
        if state.debt > 0 {
            state.debt -= 1;
            permit.forget();
        }
    }
}

impl Limiter {
    /// A limiter starting at `config.initial`.
    pub fn new(config: LimiterConfig) -> Arc<Self> {
        let max = config.max.max(1);
        let min = config.min.clamp(1, max);
        let initial = config.initial.clamp(min, max);
        let config = LimiterConfig {
            initial,
            max,
            min,
            ..config
        };
        metrics::gauge!(names::CONCURRENCY_LIMIT).set(initial as f64);
        Arc::new(Limiter {
            sem: Arc::new(Semaphore::new(initial)),
            state: Mutex::new(State {
                limit: initial,
                debt: 0,
                successes: 0,
                last_decrease: None,
                slow_start: true,
            }),
            config,
        })
    }

    /// Waits for a permit.
    pub async fn acquire(self: &Arc<Self>) -> Permit {
        let permit = self
            .sem
            .clone()
            .acquire_owned()
            .await
            .expect("the limiter's semaphore is never closed");
        Permit {
            permit: Some(permit),
            limiter: self.clone(),
        }
    }

    /// The current limit.
    pub fn limit(&self) -> usize {
        self.state.lock().unwrap().limit
    }

    /// Records a successful request: one permit more in slow start, else additive increase.
    pub fn on_success(&self) {
        let mut state = self.state.lock().unwrap();
        if state.limit >= self.config.max {
            return;
        }
        state.successes += 1;
        if state.slow_start || state.successes >= state.limit {
            state.successes = 0;
            state.limit += 1;
            if state.debt > 0 {
                state.debt -= 1;
            } else {
                self.sem.add_permits(1);
            }
            metrics::gauge!(names::CONCURRENCY_LIMIT).set(state.limit as f64);
        }
    }

    /// Records a throttling response: multiplicative decrease.
    pub fn on_throttle(&self) {
        let mut state = self.state.lock().unwrap();
        let now = Instant::now();
        if let Some(last) = state.last_decrease
            && now.duration_since(last) < self.config.decrease_interval
        {
            return;
        }
        state.last_decrease = Some(now);
        state.successes = 0;
        state.slow_start = false;
        let new_limit = (state.limit / 2).max(self.config.min);
        let cut = state.limit - new_limit;
        state.limit = new_limit;
        // Take what is idle now; the rest is retired as permits come back.
        let mut idle = cut.min(self.sem.available_permits());
        while idle > 0 {
            match self.sem.try_acquire_many(idle as u32) {
                Ok(p) => {
                    p.forget();
                    break;
                }
                Err(_) => idle -= 1,
            }
        }
        state.debt += cut - idle;
        metrics::gauge!(names::CONCURRENCY_LIMIT).set(new_limit as f64);
        tracing::debug!(limit = new_limit, "throttled: concurrency limit lowered");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(max: usize, min: usize) -> Arc<Limiter> {
        Limiter::new(LimiterConfig {
            initial: max,
            max,
            min,
            decrease_interval: Duration::ZERO,
        })
    }

    #[tokio::test]
    async fn throttle_halves_and_successes_recover() {
        let l = limiter(16, 2);
        l.on_throttle();
        assert_eq!(l.limit(), 8);
        assert_eq!(l.sem.available_permits(), 8);
        l.on_throttle();
        l.on_throttle();
        l.on_throttle();
        assert_eq!(l.limit(), 2, "never below min");
        for _ in 0..2 {
            l.on_success();
        }
        assert_eq!(l.limit(), 3);
        for _ in 0..1000 {
            l.on_success();
        }
        assert_eq!(l.limit(), 16, "never above max");
        assert_eq!(l.sem.available_permits(), 16);
    }

    #[tokio::test]
    async fn shrinking_retires_permits_in_flight_as_they_return() {
        let l = limiter(4, 1);
        let held: Vec<Permit> = futures::future::join_all((0..4).map(|_| l.acquire())).await;
        l.on_throttle();
        assert_eq!(l.limit(), 2);
        drop(held);
        assert_eq!(
            l.sem.available_permits(),
            2,
            "two permits retired on return"
        );
    }

    #[tokio::test]
    async fn decreases_are_spaced() {
        let l = Limiter::new(LimiterConfig {
            initial: 64,
            max: 64,
            min: 1,
            decrease_interval: Duration::from_secs(3600),
        });
        l.on_throttle();
        l.on_throttle();
        assert_eq!(
            l.limit(),
            32,
            "a burst of throttles from one wave counts once"
        );
    }

    #[tokio::test]
    async fn probes_above_the_start_until_throttled_then_additive() {
        let l = Limiter::new(LimiterConfig {
            initial: 8,
            max: 32,
            min: 1,
            decrease_interval: Duration::ZERO,
        });
        assert_eq!(l.limit(), 8);
        assert_eq!(l.sem.available_permits(), 8);
        for _ in 0..8 {
            l.on_success();
        }
        assert_eq!(l.limit(), 16, "slow start: one permit per success");
        assert_eq!(l.sem.available_permits(), 16);
        for _ in 0..100 {
            l.on_success();
        }
        assert_eq!(l.limit(), 32, "never above max");
        l.on_throttle();
        assert_eq!(l.limit(), 16);
        for _ in 0..15 {
            l.on_success();
        }
        assert_eq!(
            l.limit(),
            16,
            "after a throttle: one permit per `limit` successes"
        );
        l.on_success();
        assert_eq!(l.limit(), 17);
    }

    #[test]
    fn initial_is_clamped_to_the_bounds() {
        let l = Limiter::new(LimiterConfig {
            initial: 1000,
            max: 10,
            min: 2,
            ..LimiterConfig::default()
        });
        assert_eq!(l.limit(), 10);
        let l = Limiter::new(LimiterConfig {
            initial: 0,
            max: 10,
            min: 2,
            ..LimiterConfig::default()
        });
        assert_eq!(l.limit(), 2);
    }
}
