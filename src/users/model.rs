//! The user resource as the API shows it, and the request bodies that create and change
//! users (each deserialized once and applied by the domain; see `docs/api.md`).

use serde::{Deserialize, Serialize};

/// `{id, username, email, full_name, roles, status, mfa_enabled, created_at, updated_at,
/// last_login_at}` (`docs/api.md`). The password hash never leaves the store except as
/// a [`LoginRecord`] for the password check.
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

/// What a password login checks about a user (looked up by username or email).
#[derive(Debug, Clone)]
pub struct LoginRecord {
    pub id: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// `active` or `disabled`.
    pub status: String,
    pub mfa_enabled: bool,
    pub username: String,
}

/// `POST /users` body (`roles` as strings, password in clear), validated by
/// [`crate::users::create`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    pub username: String,
    pub email: String,
    pub password: String,
    pub roles: Vec<String>,
    pub full_name: Option<String>,
}

/// `POST /auth/register` body: self-service sign-up, always as `viewer`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    pub username: String,
    pub email: String,
    pub password: String,
    pub full_name: Option<String>,
}

impl From<Registration> for CreateUser {
    fn from(r: Registration) -> Self {
        CreateUser {
            username: r.username,
            email: r.email,
            password: r.password,
            roles: vec!["viewer".into()],
            full_name: r.full_name,
        }
    }
}

/// Writable fields; `None` leaves a field unchanged. The `PATCH /users/{id}` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserChanges {
    pub email: Option<String>,
    pub full_name: Option<String>,
    pub roles: Option<Vec<String>>,
    pub status: Option<String>,
}

/// `PUT /users/{id}` body: every writable field, all required.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserReplacement {
    pub email: String,
    pub full_name: String,
    pub roles: Vec<String>,
    pub status: String,
}

impl From<UserReplacement> for UserChanges {
    fn from(r: UserReplacement) -> Self {
        UserChanges {
            email: Some(r.email),
            full_name: Some(r.full_name),
            roles: Some(r.roles),
            status: Some(r.status),
        }
    }
}

/// `PATCH /users/me` body: what users may change about themselves (roles and status are
/// for admins, and are unknown fields here).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnChanges {
    pub email: Option<String>,
    pub full_name: Option<String>,
}

impl From<OwnChanges> for UserChanges {
    fn from(o: OwnChanges) -> Self {
        UserChanges {
            email: o.email,
            full_name: o.full_name,
            ..UserChanges::default()
        }
    }
}

/// `POST /users/me/password` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

/// `POST /users/{id}/roles` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleGrant {
    pub role: String,
}
