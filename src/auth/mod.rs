//! Authentication and authorization: passwords, access tokens, login sessions with
//! rotating refresh tokens, the OAuth2 client-credentials grant, API keys, MFA, roles
//! and permissions. SQL for the tables auth owns is in [`store`]; the `users` table is
//! reached through [`crate::users::store`].

pub mod api;
pub mod api_keys;
pub mod client;
pub mod jwt;
pub mod mfa;
pub mod model;
pub mod password;
pub mod principal;
pub mod ratelimit;
pub mod rbac;
pub mod session;
pub mod store;
