//! `${secret:<key>}` references in a service's env: checked when the spec is set,
//! resolved when containers are created.

use super::model::ServiceSpec;
use super::runtime;
use crate::app::App;
use crate::error::Result;

/// Every `${secret:<key>}` in the env must name an existing config entry
/// (`VALIDATION_ERROR` on field `env.<VAR>` otherwise).
pub(super) async fn check_env_refs(app: &App, spec: &ServiceSpec) -> Result<()> {
    let env = spec.env.clone();
    app.store
        .read(move |c| crate::configuration::refs::check(c, "env", &env))
        .await
}

/// Whether any env value refers to a config entry.
pub(super) fn has_secret_refs(spec: &ServiceSpec) -> bool {
    spec.env
        .values()
        .any(|v| !crate::configuration::refs::referenced_keys(v).is_empty())
}

/// The env with its `${secret:…}` references resolved, for creating containers.
pub(super) async fn resolve_env(app: &App, spec: &ServiceSpec) -> Result<runtime::ResolvedEnv> {
    let (env, vault) = (spec.env.clone(), app.vault.clone());
    app.store
        .read(move |c| crate::configuration::refs::resolve(c, &vault, &env))
        .await
}
