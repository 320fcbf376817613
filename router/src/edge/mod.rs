//! What stands between a client and the planner: who the caller is ([`jwt`]) and whether they
//! are within their budget ([`rate_limit`]).

pub mod jwt;
pub mod rate_limit;
