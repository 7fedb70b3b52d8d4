//! The browser's monotonic clock and randomness, in the units the core expects.

use dashboard_core::Millis;

/// Milliseconds since page load from `performance.now()` (monotonic; never goes back when the
/// wall clock is changed).
pub fn now() -> Millis {
    web_sys::window()
        .and_then(|window| window.performance())
        .map(|performance| performance.now() as Millis)
        .unwrap_or(0)
}

/// Milliseconds since the Unix epoch from the wall clock.
pub fn wall_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// A random seed for jitter.
pub fn seed() -> u64 {
    (js_sys::Math::random() * u64::MAX as f64) as u64
}

/// Converts a wall-clock time (ms since the epoch) to the monotonic clock.
pub fn wall_to_monotonic(wall: i64) -> Millis {
    let delta = wall - wall_ms();
    (now() as i64 + delta).max(0) as Millis
}
