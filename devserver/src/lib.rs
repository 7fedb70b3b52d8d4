//! A local Supabase-compatible backend for the redemption dashboard.
//!
//! Start reading at [`app`], which builds the whole router from an [`AppState`]: auth under
//! `/auth/v1`, the PostgREST subset under `/rest/v1`, Realtime under `/realtime/v1` (and
//! `/socket`), and the loopback-only fault switches under `/_dev`. The store in [`store`] owns
//! SQLite and the change feed that Realtime and the simulator share.

pub mod auth;
pub mod cli;
pub mod column_value;
pub mod faults;
pub mod realtime;
pub mod rest;
pub mod schema;
pub mod simulator;
pub mod state;
pub mod store;

mod gateway;
mod router;

pub use router::app;
pub use state::{AppState, ServerConfig};
