//! The user resource as the API shows it.

use serde::Serialize;

/// `{id, username, email, full_name, roles, status, mfa_enabled, created_at, updated_at,
/// last_login_at}` (DESIGN.md, "Main shapes"). The password hash never leaves the store.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct User {
    pub id: String,
    pub username: String,
    pub email: String,
    pub full_name: String,
    pub roles: Vec<String>,
    pub status: String,
    pub mfa_enabled: bool,
    pub created_at: String,
    pub updated_at: String,
    pub last_login_at: Option<String>,
}

/// What it takes to create a user (already validated, password already hashed).
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub email: String,
    pub full_name: String,
    pub password_hash: String,
    pub roles: Vec<crate::auth::rbac::Role>,
}
