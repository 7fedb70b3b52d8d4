//! The PostgREST subset under `/rest/v1`: reads with select, filters, order, paging and counts;
//! the request writes; and `rpc/decide_redemption`.

pub mod error;
pub mod query;
pub mod routes;
pub mod sql;
