//! Authentication and authorization: passwords, access tokens, login sessions with
//! rotating refresh tokens, API keys, roles and permissions.

pub mod api;
pub mod api_keys;
pub mod jwt;
pub mod mfa;
pub mod password;
pub mod principal;
pub mod ratelimit;
pub mod rbac;
pub mod session;
