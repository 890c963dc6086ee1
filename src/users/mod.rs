//! Users: accounts, their roles and their status.

pub mod api;
pub mod model;
pub mod store;

use crate::error::{Error, Result};
use crate::store::Store;

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
                &crate::audit::Entry {
                    action: "users.reset_password",
                    target_type: Some("user"),
                    target_id: Some(&u.id),
                    success: true,
                    details: None,
                },
            )
        })
        .await?;
    Ok(password)
}
