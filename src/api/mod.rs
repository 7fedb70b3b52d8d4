//! Clients for Supabase Auth and PostgREST on gloo-net, with one error type a user can act on.

mod auth;
mod error;
mod rest;

pub use auth::{refresh_session, sign_in, sign_out};
pub use error::ApiError;
pub use rest::{Api, NewRedemption};
