//! Exponential backoff with full jitter, shared by the Realtime reconnect loop and fetch retries.
//!
//! The caller supplies the randomness as a number in `[0, 1)`, so tests are deterministic and the
//! browser adapter can use `Math.random()`.

use crate::Millis;

/// Backoff settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackoffPolicy {
    /// The ceiling of the first delay. Defaults to 1 000 ms.
    pub base_ms: Millis,
    /// No delay is ever longer than this. Defaults to 15 000 ms.
    pub cap_ms: Millis,
    /// Smallest delay handed out, so a zero draw never turns into a busy loop. Defaults to 100 ms.
    pub floor_ms: Millis,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        Self {
            base_ms: 1_000,
            cap_ms: 15_000,
            floor_ms: 100,
        }
    }
}

impl BackoffPolicy {
    /// The ceiling for the given zero-based attempt: `min(cap, base * 2^attempt)`.
    pub fn ceiling(&self, attempt: u32) -> Millis {
        let factor = 1u64.checked_shl(attempt.min(40)).unwrap_or(u64::MAX);
        self.base_ms.saturating_mul(factor).min(self.cap_ms)
    }

    /// Full jitter: a delay drawn uniformly from `[floor, ceiling(attempt)]` using `unit` in
    /// `[0, 1)`. Out-of-range or non-finite `unit` values are clamped.
    pub fn delay(&self, attempt: u32, unit: f64) -> Millis {
        let unit = if unit.is_finite() {
            unit.clamp(0.0, 1.0)
        } else {
            0.5
        };
        let ceiling = self.ceiling(attempt);
        let floor = self.floor_ms.min(ceiling);
        floor + ((ceiling - floor) as f64 * unit) as Millis
    }
}

/// A small deterministic source of jitter (xorshift64*), seeded by the adapter so tests are
/// repeatable and the browser can seed it from `Math.random()`.
#[derive(Debug, Clone)]
pub struct Jitter(u64);

impl Jitter {
    /// A generator from any seed (zero is nudged to one; xorshift would stay at zero).
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    /// The next number in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A running count of failures with its policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    /// The policy in force.
    pub policy: BackoffPolicy,
    attempt: u32,
}

impl Backoff {
    /// A fresh backoff with no failures recorded.
    pub fn new(policy: BackoffPolicy) -> Self {
        Self { policy, attempt: 0 }
    }

    /// Failures recorded since the last reset.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Records a failure and returns how long to wait before the next try.
    pub fn next_delay(&mut self, unit: f64) -> Millis {
        let delay = self.policy.delay(self.attempt, unit);
        self.attempt = self.attempt.saturating_add(1);
        delay
    }

    /// Forgets past failures (after a stable success).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn first_retry_is_within_about_a_second_and_growth_is_capped() {
        let policy = BackoffPolicy::default();
        assert!(policy.delay(0, 0.999) <= 1_000);
        assert_eq!(policy.ceiling(1), 2_000);
        assert_eq!(policy.ceiling(10), 15_000);
        assert_eq!(policy.ceiling(u32::MAX), 15_000);
    }

    #[test]
    fn reset_starts_over() {
        let mut backoff = Backoff::new(BackoffPolicy::default());
        for _ in 0..5 {
            backoff.next_delay(0.5);
        }
        assert_eq!(backoff.attempt(), 5);
        backoff.reset();
        assert!(backoff.next_delay(0.999) <= 1_000);
    }

    proptest! {
        #[test]
        fn delays_stay_between_floor_and_cap(attempt in 0u32..100, unit in proptest::num::f64::ANY) {
            let policy = BackoffPolicy { base_ms: 1_000, cap_ms: 30_000, floor_ms: 100 };
            let delay = policy.delay(attempt, unit);
            prop_assert!(delay >= 100);
            prop_assert!(delay <= 30_000);
            prop_assert!(delay <= policy.ceiling(attempt));
        }
    }
}
