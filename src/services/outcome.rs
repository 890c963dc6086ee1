//! Recording how an operation on a service ended: the observed status and the audit
//! entry, in one transaction.

use super::store;
use crate::app::App;
use crate::audit::{self, Actor, Entry};
use crate::error::{Error, Result};

/// Records the observed status and the audit entry of an operation in one transaction.
pub(super) async fn finish(
    app: &App,
    actor: &Actor,
    action: &'static str,
    id: &str,
    status: Option<String>,
    outcome: &Result<()>,
) -> Result<()> {
    let actor = actor.clone();
    let mut entry = Entry::new(action).on("service", id);
    if let Err(e) = outcome {
        entry = entry
            .failed()
            .details(serde_json::json!({"error": e.code.as_str()}));
    }
    let id = id.to_string();
    app.store
        .write(move |tx| {
            if let Some(s) = &status {
                store::set_status(tx, &id, s)?;
            }
            audit::record(tx, &actor, &entry)
        })
        .await
}

/// Audits a failed operation that has no row to attach to (create).
pub(super) async fn audit_failure(
    app: &App,
    actor: &Actor,
    action: &'static str,
    name: &str,
    e: &Error,
) {
    let outcome = Entry::new(action)
        .on_any("service", None)
        .details(serde_json::json!({"name": name, "error": e.code.as_str()}))
        .failed();
    audit::record_alone(&app.store, actor.clone(), outcome).await;
}
