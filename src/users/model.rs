//! The user resource as the API shows it, and the request bodies that create and change
//! users (each deserialized once and applied by the domain; see `docs/api.md`).

use serde::{Deserialize, Serialize};

/// `{id, username, email, full_name, roles, status, mfa_enabled, created_at, updated_at,
/// last_login_at}` (`docs/api.md`). The password hash never leaves the store except as
/// a [`LoginRecord`] for the password check.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct User {
    /// `usr_…`.
    pub id: String,
    /// 1–64 of `A-Z a-z 0-9 . _ -`, starting with a letter or digit; unique, case-insensitive.
    pub username: String,
    /// Unique, case-insensitive.
    pub email: String,
    /// At most 256 bytes; `""` when unset.
    pub full_name: String,
    /// Sorted role names: `admin`, `operator`, `developer`, `viewer`.
    pub roles: Vec<String>,
    /// `active` or `disabled`.
    pub status: String,
    /// TOTP (RFC 6238) second factor on.
    pub mfa_enabled: bool,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC.
    pub updated_at: String,
    /// RFC 3339 UTC time of the last password login; null: never.
    pub last_login_at: Option<String>,
}

/// What it takes to create a user (already validated, password already hashed).
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Validated login name (see [`User::username`]).
    pub username: String,
    /// Validated email address.
    pub email: String,
    /// `""` when none was given.
    pub full_name: String,
    /// argon2id (RFC 9106) PHC string.
    pub password_hash: String,
    /// At least one; duplicates removed.
    pub roles: Vec<crate::auth::rbac::Role>,
}

/// What a password login checks about a user (looked up by username or email).
#[derive(Debug, Clone)]
pub struct LoginRecord {
    /// `usr_…`.
    pub id: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// `active` or `disabled`.
    pub status: String,
    /// Whether a TOTP code is also required.
    pub mfa_enabled: bool,
    /// Login name, for the audit log and tokens.
    pub username: String,
}

/// `POST /users` body (`roles` as strings, password in clear), validated by
/// [`crate::users::create`].
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// 1–64 of `A-Z a-z 0-9 . _ -`, starting with a letter or digit.
    pub username: String,
    /// An email address; unique, case-insensitive.
    pub email: String,
    /// In clear: 12 characters to 1024 bytes; only its hash is stored.
    pub password: String,
    /// At least one of `admin`, `operator`, `developer`, `viewer`; duplicates ignored.
    pub roles: Vec<String>,
    /// At most 256 bytes (default `""`).
    pub full_name: Option<String>,
}

/// `POST /auth/register` body: self-service sign-up, always as `viewer`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// As in [`CreateUser::username`].
    pub username: String,
    /// An email address; unique, case-insensitive.
    pub email: String,
    /// In clear: 12 characters to 1024 bytes.
    pub password: String,
    /// At most 256 bytes (default `""`).
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
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChanges {
    /// New email address.
    pub email: Option<String>,
    /// New display name (at most 256 bytes; `""` clears it).
    pub full_name: Option<String>,
    /// Replaces every role (at least one).
    pub roles: Option<Vec<String>>,
    /// `active` or `disabled`; disabling ends the user's sessions.
    pub status: Option<String>,
}

/// `PUT /users/{id}` body: every writable field, all required.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserReplacement {
    /// New email address.
    pub email: String,
    /// Display name, at most 256 bytes.
    pub full_name: String,
    /// Every role (at least one).
    pub roles: Vec<String>,
    /// `active` or `disabled`.
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
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnChanges {
    /// New email address.
    pub email: Option<String>,
    /// New display name (at most 256 bytes).
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
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// Checked against the stored hash.
    pub current_password: String,
    /// 12 characters to 1024 bytes.
    pub new_password: String,
}

/// `POST /users/{id}/roles` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleGrant {
    /// `admin`, `operator`, `developer` or `viewer`.
    pub role: String,
}
