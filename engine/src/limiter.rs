//! One adaptive limiter for every request the engine makes.
//!
//! Permits are owned ([`Permit`]) and held for a whole piece of work (one object's footer
//! read and copy, or one part copy). The limit follows AIMD: each throttling response halves
//! it (at most once per [`LimiterConfig::decrease_interval`], so a burst of 503s from one wave
//! of requests counts once), and every `limit` successes add one permit back, up to the
//! configured maximum. Shrinking never revokes permits in flight: returned permits are
//! retired until the debt is paid.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::metrics as names;

/// Limiter settings.
#[derive(Debug, Clone)]
pub struct LimiterConfig {
    /// Most requests in flight. Default 256: S3 sustains 3,500 copies/s per prefix and
    /// copies take tens of milliseconds, so a few hundred keep one client busy.
    pub max: usize,
    /// The limit never drops below this. Default 4.
    pub min: usize,
    /// Shortest time between two decreases. Default 250 ms.
    pub decrease_interval: Duration,
}

impl Default for LimiterConfig {
    fn default() -> Self {
        LimiterConfig {
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
    /// A limiter starting at `config.max`.
    pub fn new(config: LimiterConfig) -> Arc<Self> {
        let max = config.max.max(1);
        let config = LimiterConfig {
            max,
            min: config.min.clamp(1, max),
            ..config
        };
        metrics::gauge!(names::CONCURRENCY_LIMIT).set(max as f64);
        Arc::new(Limiter {
            sem: Arc::new(Semaphore::new(max)),
            state: Mutex::new(State {
                limit: max,
                debt: 0,
                successes: 0,
                last_decrease: None,
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

    /// Records a successful request: additive increase.
    pub fn on_success(&self) {
        let mut state = self.state.lock().unwrap();
        if state.limit >= self.config.max {
            return;
        }
        state.successes += 1;
        if state.successes >= state.limit {
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
}
