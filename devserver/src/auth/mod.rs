//! Supabase Auth (GoTrue) subset: password and refresh-token grants, the user, sign-out.

pub mod jwt;
pub mod routes;
