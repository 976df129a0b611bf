//! A client-side rate limit: calls are spaced evenly so that no more than `per_second` start in
//! any second, across every task that shares the limiter. Identity Center documents a collective
//! 20 TPS limit and throttles above it; staying under it is cheaper than retrying.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    next_slot: Mutex<Instant>,
}

impl RateLimiter {
    pub fn new(per_second: f64) -> Self {
        let per_second = if per_second.is_finite() && per_second > 0.0 { per_second } else { 20.0 };
        RateLimiter { interval: Duration::from_secs_f64(1.0 / per_second), next_slot: Mutex::new(Instant::now()) }
    }

    /// Waits for this call's slot.
    pub async fn acquire(&self) {
        let slot = {
            let mut next = self.next_slot.lock().await;
            let slot = (*next).max(Instant::now());
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn spaces_calls_evenly() {
        let limiter = RateLimiter::new(10.0);
        let start = Instant::now();
        for _ in 0..21 {
            limiter.acquire().await;
        }
        let elapsed = start.elapsed().as_secs_f64();
        assert!((1.99..2.1).contains(&elapsed), "21 calls at 10/s should take 2 s, took {elapsed}");
    }
}
