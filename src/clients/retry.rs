//! When to try a failed call again, and how long to wait first.

use std::time::Duration;

/// What kind of failure a call had, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Failure {
    /// The service asked us to slow down; `after` is the wait it named, if any.
    Throttled { after: Option<Duration> },
    /// A server error, a timeout or a dropped connection: worth a few more tries.
    Transient,
    /// Could not reach the service at all.
    Unreachable,
    /// Retrying cannot help (validation, permissions, not found, conflict).
    Permanent,
}

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts_throttled: u32,
    pub max_attempts_transient: u32,
    pub max_attempts_unreachable: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts_throttled: 10,
            max_attempts_transient: 5,
            max_attempts_unreachable: 3,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// How long to wait before attempt `attempt + 1`, or `None` to give up. `attempt` counts from 1.
    pub fn delay(&self, failure: Failure, attempt: u32) -> Option<Duration> {
        let limit = match failure {
            Failure::Throttled { .. } => self.max_attempts_throttled,
            Failure::Transient => self.max_attempts_transient,
            Failure::Unreachable => self.max_attempts_unreachable,
            Failure::Permanent => return None,
        };
        if attempt >= limit {
            return None;
        }
        let exponential = self.base_delay.saturating_mul(1u32 << (attempt - 1).min(16)).min(self.max_delay);
        let jittered = exponential.mul_f64(0.5 + jitter() * 0.5);
        Some(match failure {
            // A server's own Retry-After is a floor, never shortened by jitter.
            Failure::Throttled { after: Some(after) } => after.min(Duration::from_secs(120)).max(jittered),
            _ => jittered,
        })
    }
}

/// A number in [0, 1) that differs between calls, so that parallel retries do not march in step.
fn jitter() -> f64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0);
    let seed =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1);
    let mut x = STATE.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed) ^ seed;
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn honours_retry_after_and_gives_up() {
        let policy = RetryPolicy::default();
        let wait = policy.delay(Failure::Throttled { after: Some(Duration::from_secs(7)) }, 1).unwrap();
        assert!(wait >= Duration::from_secs(7));
        assert_eq!(policy.delay(Failure::Permanent, 1), None);
        assert_eq!(policy.delay(Failure::Unreachable, 3), None);
        assert!(policy.delay(Failure::Transient, 4).unwrap() <= Duration::from_secs(20));
    }
}
