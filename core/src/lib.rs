//! The sans-IO heart of the redemption dashboard: no browser types, no clocks, no sockets.
//!
//! Every type here is driven by explicit inputs (a frame, a timer firing at a given virtual
//! millisecond, a fetch result) and answers with actions for an adapter to carry out. The Leptos
//! app wraps these in thin browser adapters; the tests drive them with a virtual clock.

pub mod backoff;
pub mod codec;
pub mod connection;
pub mod format;
pub mod merge;
pub mod model;
pub mod query;
pub mod scheduler;

/// Milliseconds on whichever clock the caller drives (virtual in tests, `performance.now()` in
/// the browser).
pub type Millis = u64;
