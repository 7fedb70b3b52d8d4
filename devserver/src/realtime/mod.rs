//! Supabase Realtime over Phoenix channels (vsn 1.0.0): `postgres_changes` only.
//!
//! [`routes`] checks the upgrade, [`socket`] runs one socket's channels over any
//! `Sink`/`Stream`, [`binding`] parses subscriptions and matches changes, and [`protocol`]
//! encodes and decodes frames.

pub mod binding;
pub mod protocol;
pub mod routes;
pub mod socket;
