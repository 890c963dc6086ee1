//! Users: accounts, their roles and their status. Validation and the changes
//! themselves live here; SQL is in [`store`], HTTP in [`api`].

pub mod api;
pub mod model;
pub mod store;

use crate::app::App;
use crate::audit::{self, Actor, Entry};
use crate::auth::principal::Principal;
use crate::auth::rbac::Role;
use crate::error::{Error, Result};
use crate::store::Store;
use crate::store::list::{ListQuery, Page};
use model::{CreateUser, NewUser, PasswordChange, Registration, User, UserChanges};
use rusqlite::Connection;

/// `mcpd admin reset-password`: a new random password for `user` (id or username);
/// every session of theirs is revoked. Returns the password to show once.
pub async fn reset_password(store: &Store, user: &str) -> Result<String> {
    let password = crate::ids::random_alnum(24);
    let hash = crate::auth::password::hash(password.clone()).await?;
    let user = user.to_string();
    store
        .write(move |tx| {
            let u = store::get(tx, &user)?.ok_or_else(|| Error::not_found("user", &user))?;
            store::set_password(tx, &u.id, &hash, "password reset")?;
            crate::audit::record(
                tx,
                &crate::audit::Actor::system(),
                &crate::audit::Entry::new("users.reset_password").on("user", &u.id),
            )
        })
        .await?;
    Ok(password)
}

/// Usernames: 1..=64 of `[a-zA-Z0-9._-]`, starting with a letter or digit (they appear
/// in logs and audit entries, so no spaces or control characters).
pub fn validate_username(s: &str) -> Result<()> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Error::field(
            "username",
            "must be 1 to 64 characters of letters, digits, '.', '_' or '-', starting with a letter or digit",
        ))
    }
}

/// A plausible address (`local@domain.tld`, ≤ 254 bytes per RFC 5321 §4.5.3.1.3); mail
/// is never sent, so this only catches typos.
pub fn validate_email(s: &str) -> Result<()> {
    let ok = s.len() <= 254
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && s.split_once('@').is_some_and(|(l, d)| {
            !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
        });
    if ok {
        Ok(())
    } else {
        Err(Error::field("email", "must be an email address"))
    }
}

fn parse_roles(roles: &[String]) -> Result<Vec<Role>> {
    if roles.is_empty() {
        return Err(Error::field("roles", "at least one role is required"));
    }
    let mut out = Vec::new();
    for r in roles {
        let role: Role = r.parse().map_err(|_| {
            Error::field(
                "roles",
                format!("unknown role '{r}' (roles: admin, operator, developer, viewer)"),
            )
        })?;
        if !out.contains(&role) {
            out.push(role);
        }
    }
    Ok(out)
}

fn validate_full_name(s: &str) -> Result<()> {
    if s.len() > 256 || s.chars().any(char::is_control) {
        return Err(Error::field(
            "full_name",
            "must be at most 256 printable characters",
        ));
    }
    Ok(())
}

fn load(tx: &Connection, id: &str) -> Result<User> {
    store::get(tx, id)?.ok_or_else(|| Error::not_found("user", id))
}

/// Fails with `CONFLICT` when the change would leave no active admin.
fn keep_an_admin(tx: &Connection) -> Result<()> {
    if store::active_admins(tx)? == 0 {
        return Err(Error::conflict("at least one active admin must remain"));
    }
    Ok(())
}

/// Users matching the list query.
pub async fn list(app: &App, q: ListQuery) -> Result<Page<User>> {
    let parts = q.sql(&store::LIST)?;
    app.store.read(move |c| store::list(c, &parts)).await
}

/// One user by id or username. `RESOURCE_NOT_FOUND` otherwise.
pub async fn get(app: &App, id: &str) -> Result<User> {
    let id = id.to_string();
    app.store.read(move |c| load(c, &id)).await
}

/// The live login sessions of user `id` (id or username), newest first, with the client
/// address and user agent of each login. `RESOURCE_NOT_FOUND` for no such user.
pub async fn sessions(app: &App, id: &str) -> Result<Vec<crate::auth::model::SessionInfo>> {
    let user = get(app, id).await?;
    crate::auth::session::user_sessions(app, user.id).await
}

/// Ends user `id`'s login session `session`, or all of them; returns how many ended.
/// `RESOURCE_NOT_FOUND` for no such user, or a session that is not theirs or no longer
/// live.
pub async fn end_sessions(
    app: &App,
    actor: &Actor,
    id: &str,
    session: Option<String>,
) -> Result<usize> {
    let user = get(app, id).await?;
    crate::auth::session::revoke_user_sessions(app, actor, user.id, session).await
}

/// Creates a user. Errors: `VALIDATION_ERROR` naming the field,
/// `RESOURCE_ALREADY_EXISTS` for a taken username or email.
pub async fn create(app: &App, actor: &Actor, req: CreateUser) -> Result<User> {
    validate_username(&req.username)?;
    validate_email(&req.email)?;
    crate::auth::password::check_policy("password", &req.password)?;
    let roles = parse_roles(&req.roles)?;
    let full_name = req.full_name.unwrap_or_default();
    validate_full_name(&full_name)?;
    let password_hash = crate::auth::password::hash(req.password).await?;
    let new = NewUser {
        username: req.username,
        email: req.email,
        full_name,
        password_hash,
        roles,
    };
    let actor = actor.clone();
    app.store
        .write(move |tx| {
            let u = store::insert(tx, &new)?;
            audit::record(tx, &actor, &Entry::new("users.create").on("user", &u.id))?;
            Ok(u)
        })
        .await
}

/// Self-service sign-up (`POST /auth/register`), off unless `auth.allow_registration`;
/// the new user gets `viewer`. Errors: `FORBIDDEN` when registration is off, then as
/// [`create`].
pub async fn register(app: &App, actor: &Actor, req: Registration) -> Result<User> {
    if !app.settings.auth.allow_registration {
        return Err(Error::forbidden(
            "registration is disabled (auth.allow_registration)",
        ));
    }
    create(app, actor, req.into()).await
}

/// Checks the fields `changes` sets; returns the parsed roles when they are set.
fn validate_changes(changes: &UserChanges) -> Result<Option<Vec<Role>>> {
    if let Some(e) = &changes.email {
        validate_email(e)?;
    }
    if let Some(n) = &changes.full_name {
        validate_full_name(n)?;
    }
    let roles = changes.roles.as_deref().map(parse_roles).transpose()?;
    if let Some(s) = &changes.status
        && s != "active"
        && s != "disabled"
    {
        return Err(Error::field("status", "must be 'active' or 'disabled'"));
    }
    Ok(roles)
}

/// Writes the validated `changes` to `user`, in the order email, full name, roles,
/// status; disabling revokes the user's sessions.
fn apply_changes(
    tx: &Connection,
    user: &User,
    changes: &UserChanges,
    roles: Option<&[Role]>,
) -> Result<()> {
    if let Some(e) = &changes.email {
        if store::email_taken(tx, e, &user.id)? {
            return Err(Error::already_exists("user", e).with_detail("email", "already taken"));
        }
        store::set_email(tx, &user.id, e)?;
    }
    if let Some(n) = &changes.full_name {
        store::set_full_name(tx, &user.id, n)?;
    }
    if let Some(roles) = roles {
        store::set_roles(tx, &user.id, roles)?;
    }
    if let Some(s) = &changes.status {
        store::set_status(tx, &user.id, s)?;
        if s == "disabled" && user.status != "disabled" {
            crate::auth::store::revoke_user_sessions(tx, &user.id, "user disabled")?;
        }
    }
    Ok(())
}

/// The names of the fields `changes` sets, for the audit entry.
fn changed_fields(changes: &UserChanges) -> Vec<&'static str> {
    [
        changes.email.as_ref().map(|_| "email"),
        changes.full_name.as_ref().map(|_| "full_name"),
        changes.roles.as_ref().map(|_| "roles"),
        changes.status.as_ref().map(|_| "status"),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Applies `changes`. Disabling a user revokes their sessions (their tokens and keys
/// already stop on the next request because every request re-reads the user).
/// Errors: `VALIDATION_ERROR`, `RESOURCE_NOT_FOUND`, `RESOURCE_ALREADY_EXISTS` (email
/// taken), `CONFLICT` when no active admin would remain.
pub async fn update(app: &App, actor: &Actor, id: &str, changes: UserChanges) -> Result<User> {
    let roles = validate_changes(&changes)?;
    let id = id.to_string();
    let actor = actor.clone();
    app.store
        .write(move |tx| {
            let user = load(tx, &id)?;
            let now = crate::time::now_rfc3339();
            apply_changes(tx, &user, &changes, roles.as_deref())?;
            keep_an_admin(tx)?;
            store::touch(tx, &user.id, &now)?;
            audit::record(
                tx,
                &actor,
                &audit::Entry::new("users.update")
                    .on("user", &user.id)
                    .details(serde_json::json!({ "fields": changed_fields(&changes) })),
            )?;
            load(tx, &user.id)
        })
        .await
}

/// Deletes a user with their sessions and API keys. Deleting oneself or the last
/// active admin is a `CONFLICT`.
pub async fn delete(app: &App, who: &Principal, id: &str) -> Result<()> {
    let id = id.to_string();
    let me = who.user_id.clone();
    let actor = Actor::from(who);
    app.store
        .write(move |tx| {
            let user = load(tx, &id)?;
            if user.id == me {
                return Err(Error::conflict("you cannot delete your own account"));
            }
            store::delete(tx, &user.id)?;
            keep_an_admin(tx)?;
            audit::record(tx, &actor, &Entry::new("users.delete").on("user", &user.id))
        })
        .await
}

/// Grants `role` (idempotent).
pub async fn add_role(app: &App, actor: &Actor, id: &str, role: &str) -> Result<User> {
    let role = parse_roles(&[role.to_string()])?[0];
    let id = id.to_string();
    let actor = actor.clone();
    app.store
        .write(move |tx| {
            let user = load(tx, &id)?;
            store::add_role(tx, &user.id, role)?;
            store::touch(tx, &user.id, &crate::time::now_rfc3339())?;
            audit::record(
                tx,
                &actor,
                &Entry::new("users.add_role").on("user", &user.id),
            )?;
            load(tx, &user.id)
        })
        .await
}

/// Removes `role`. `RESOURCE_NOT_FOUND` when the user does not hold it; `CONFLICT`
/// when it is the last role or the last active admin's admin role.
pub async fn remove_role(app: &App, actor: &Actor, id: &str, role: &str) -> Result<()> {
    let id = id.to_string();
    let role = role.to_string();
    let actor = actor.clone();
    app.store
        .write(move |tx| {
            let user = load(tx, &id)?;
            if !user.roles.contains(&role) {
                return Err(Error::not_found("role", &role));
            }
            if user.roles.len() == 1 {
                return Err(Error::conflict("a user must keep at least one role"));
            }
            store::remove_role(tx, &user.id, &role)?;
            keep_an_admin(tx)?;
            store::touch(tx, &user.id, &crate::time::now_rfc3339())?;
            audit::record(
                tx,
                &actor,
                &Entry::new("users.remove_role").on("user", &user.id),
            )
        })
        .await
}

/// Changes the caller's own password after checking the current one; every login
/// session of theirs (refresh tokens included) is revoked. API keys cannot change
/// passwords (`FORBIDDEN`). Errors: `VALIDATION_ERROR` (field `current_password`
/// wrong, or `new_password` against the policy).
pub async fn change_password(app: &App, who: &Principal, req: PasswordChange) -> Result<()> {
    if who.api_key_id.is_some() {
        return Err(Error::forbidden(
            "API keys cannot change passwords; log in with a password",
        ));
    }
    crate::auth::password::check_policy("new_password", &req.new_password)?;
    let uid = who.user_id.clone();
    let phc: Option<String> = app
        .store
        .read(move |c| Ok(store::password_hash(c, &uid).ok().flatten()))
        .await?;
    if !crate::auth::password::verify(req.current_password, phc).await {
        return Err(Error::field("current_password", "incorrect"));
    }
    let hash = crate::auth::password::hash(req.new_password).await?;
    let uid = who.user_id.clone();
    let actor = Actor::from(who);
    app.store
        .write(move |tx| {
            store::set_password(tx, &uid, &hash, "password changed")?;
            audit::record(
                tx,
                &actor,
                &Entry::new("users.change_password").on("user", &uid),
            )
        })
        .await
}

/// Removes a user's second factor so they can enrol again (admin, audited).
pub async fn reset_mfa(app: &App, actor: &Actor, id: &str) -> Result<()> {
    let id = id.to_string();
    let actor = actor.clone();
    app.store
        .write(move |tx| {
            let user = load(tx, &id)?;
            crate::auth::mfa::clear(tx, &user.id)?;
            audit::record(
                tx,
                &actor,
                &Entry::new("users.reset_mfa").on("user", &user.id),
            )
        })
        .await
}
