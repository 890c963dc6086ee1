//! Changing a workload mcpd runs on a cluster in place: [`current`] reads what it runs
//! now as a [`WorkloadSpec`] (image, args, environment with the Secret's values, port),
//! [`apply`] makes the cluster run another one (the Deployment's pod template, which
//! rolls its pod; the Secret; the Service). Replicas are left alone, so a stopped
//! workload stays stopped. Applying the spec read before is how a failed change is
//! undone.

use super::client::{call, connect};
use super::workloads::{CONTAINER, OWNER, WorkloadSpec, deployment, secret_object, service_object};
use crate::app::App;
use crate::error::{Error, ErrorCode, Result};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, Secret, Service};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;
use std::collections::BTreeMap;

fn gone(name: &str) -> Error {
    Error::new(
        ErrorCode::K8sOperationError,
        format!("the workload's deployment '{name}' is gone from the cluster"),
    )
}

/// What the workload `name` runs now. Errors: the cluster's answers;
/// `K8S_OPERATION_ERROR` when its Deployment or container is gone.
pub async fn current(app: &App, cluster: &str, ns: &str, name: &str) -> Result<WorkloadSpec> {
    let (_, client) = connect(app, cluster).await?;
    let deployments = Api::<Deployment>::namespaced(client.clone(), ns);
    let d = call(app, "reading the workload", deployments.get_opt(name))
        .await?
        .ok_or_else(|| gone(name))?;
    let owner = d
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(OWNER))
        .cloned()
        .ok_or_else(|| gone(name))?;
    let c: Container = d
        .spec
        .and_then(|s| s.template.spec)
        .and_then(|s| s.containers.into_iter().find(|c| c.name == CONTAINER))
        .ok_or_else(|| gone(name))?;
    let secrets = Api::<Secret>::namespaced(client, ns);
    let secret_name = format!("{name}-env");
    let stored: BTreeMap<String, String> = call(
        app,
        "reading the workload's secret",
        secrets.get_opt(&secret_name),
    )
    .await?
    .and_then(|s| s.data)
    .unwrap_or_default()
    .into_iter()
    .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
    .collect();
    let (mut env, mut secret_env) = (BTreeMap::new(), BTreeMap::new());
    for e in c.env.unwrap_or_default() {
        let from_secret = e
            .value_from
            .as_ref()
            .and_then(|f| f.secret_key_ref.as_ref())
            .filter(|r| r.name == secret_name);
        match (from_secret, e.value) {
            (Some(r), _) => {
                let v = stored.get(&r.key).cloned().unwrap_or_default();
                secret_env.insert(e.name, v);
            }
            (None, v) => {
                env.insert(e.name, v.unwrap_or_default());
            }
        }
    }
    let port = c
        .ports
        .unwrap_or_default()
        .first()
        .and_then(|p| u16::try_from(p.container_port).ok());
    Ok(WorkloadSpec {
        owner,
        name: name.to_string(),
        namespace: ns.to_string(),
        image: c.image.unwrap_or_default(),
        args: c.args,
        env,
        secret_env,
        stdin: c.stdin.unwrap_or(false),
        port,
    })
}

/// Makes the cluster run `spec` in place of what the workload runs: the Secret first
/// (made, replaced or deleted), then the Deployment's pod template (a merge patch of
/// `spec.template`, which rolls the pod), then the Service's port. Errors: the
/// cluster's answers (what was already changed stays; apply the previous spec to undo).
pub async fn apply(app: &App, cluster: &str, spec: &WorkloadSpec) -> Result<()> {
    let (_, client) = connect(app, cluster).await?;
    let ns = spec.namespace.as_str();
    let pp = PatchParams::default();
    let secrets = Api::<Secret>::namespaced(client.clone(), ns);
    let secret_name = format!("{}-env", spec.name);
    let existing = call(
        app,
        "reading the workload's secret",
        secrets.get_opt(&secret_name),
    )
    .await?;
    match (existing.is_some(), spec.secret_env.is_empty()) {
        (true, true) => {
            let dp = DeleteParams::background();
            call(
                app,
                "deleting the workload's secret",
                secrets.delete(&secret_name, &dp),
            )
            .await
            .map(drop)?
        }
        (true, false) => {
            let s: Secret = serde_json::from_value(secret_object(spec))?;
            call(
                app,
                "replacing the workload's secret",
                secrets.replace(&secret_name, &PostParams::default(), &s),
            )
            .await
            .map(drop)?
        }
        (false, false) => {
            let s: Secret = serde_json::from_value(secret_object(spec))?;
            call(
                app,
                "creating the workload's secret",
                secrets.create(&PostParams::default(), &s),
            )
            .await
            .map(drop)?
        }
        (false, true) => {}
    }
    let template = deployment(spec)["spec"]["template"].clone();
    let patch = Patch::Merge(json!({"spec": {"template": template}}));
    let deployments = Api::<Deployment>::namespaced(client.clone(), ns);
    call(
        app,
        "changing the workload's deployment",
        deployments.patch(&spec.name, &pp, &patch),
    )
    .await?;
    if spec.port.is_some() {
        let svc = service_object(spec);
        let patch = Patch::Merge(json!({"spec": svc["spec"]}));
        let services = Api::<Service>::namespaced(client, ns);
        call(
            app,
            "changing the workload's service",
            services.patch(&spec.name, &pp, &patch),
        )
        .await?;
    }
    Ok(())
}
