//! The resource inventory (`GET /api/v1/resources`, seed 000): one list of what the
//! daemon runs and manages, services, their containers, MCP servers (local, remote or
//! placed on a cluster), Kubernetes clusters and network devices, each with kind,
//! status, owner and creation time; and `POST /api/v1/resources`, which creates a
//! service from a size template of `[resources]`.
//!
//! A caller sees only the kinds their permissions let them read (`services:read` for
//! services and containers, `mcp:read` and a workspace grant for an MCP server,
//! `kubernetes:read`, `network:read`). Containers come from the engine; while it is
//! down they are left out (the services still show their last known status).

pub mod api;

use crate::app::App;
use crate::auth::principal::Principal;
use crate::auth::rbac::{Action, Domain, Permission};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// One item of the inventory.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[schema(as = InventoryItem)]
pub struct Item {
    /// The resource's own id (`svc_…`, a container id, `mcp_…`, `cls_…`, `dev_…`).
    pub id: String,
    /// `service`, `container`, `mcp_server`, `cluster` or `device`.
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    pub kind: &'static str,
    /// Its name.
    pub name: String,
    /// Its status, in its own domain's terms.
    pub status: String,
    /// Creating user (`usr_…`); `null` when the daemon made it.
    pub owner: Option<String>,
    /// Creation time (RFC 3339); `null` for containers.
    pub created_at: Option<String>,
    /// Kind-specific fields (a service's image and limits, a container's service, an
    /// MCP server's transport and placement).
    pub details: Value,
}

/// The filters of `GET /resources`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Filters {
    /// Kinds, comma-separated: `service`, `container`, `mcp_server`, `cluster`,
    /// `device` (default every kind).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Exact status.
    pub status: Option<String>,
    /// Case-insensitive part of the name.
    pub search: Option<String>,
    /// Creating user's id.
    pub owner: Option<String>,
    /// Page number from 1 (default 1).
    #[param(minimum = 1)]
    pub page: Option<u32>,
    /// Items per page (seed 000), 1-500; default 50.
    #[param(minimum = 1, maximum = 500)]
    pub size: Option<u32>,
    /// Same as `size` (`size` wins when both are given).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// The kinds, in list order.
pub const KINDS: [&str; 5] = ["service", "container", "mcp_server", "cluster", "device"];

fn can(who: &Principal, d: Domain) -> bool {
    who.can(Permission(d, Action::Read))
}

/// Services and (when the engine answers) their containers; `false` when it did not.
async fn services(app: &App, out: &mut Vec<Item>) -> Result<bool> {
    let rows = app.store.read(crate::services::store::all).await?;
    for r in &rows {
        let details = json!({"image": r.spec.image, "desired_state": r.desired_state, "replicas": r.spec.replicas,
            "cpu_millicores": r.spec.resources.cpu_millicores, "memory_mb": r.spec.resources.memory_mb});
        out.push(Item {
            id: r.id.clone(),
            kind: "service",
            name: r.spec.name.clone(),
            status: r.status.clone(),
            owner: r.created_by.clone(),
            created_at: Some(r.created_at.clone()),
            details,
        });
    }
    let Ok(docker) = app.docker.get().await else {
        return Ok(false);
    };
    let Ok(containers) = crate::services::runtime::managed_containers(&docker).await else {
        return Ok(false);
    };
    for c in containers {
        let owner = rows
            .iter()
            .find(|r| Some(&r.id) == c.service_id.as_ref())
            .and_then(|r| r.created_by.clone());
        out.push(Item {
            id: c.id.clone(),
            kind: "container",
            name: c.name.clone(),
            status: c.status.clone(),
            owner,
            created_at: None,
            details: json!({"service_id": c.service_id, "started_at": c.started_at}),
        });
    }
    Ok(true)
}

async fn mcp_servers(app: &App, who: &Principal, out: &mut Vec<Item>) -> Result<()> {
    let scope = crate::workspaces::access::scope(app, Some(&who.user_id)).await?;
    for r in crate::mcp::records::records(app)
        .await?
        .iter()
        .filter(|r| scope.grant(&r.id).is_some())
    {
        let details = json!({"transport": r.transport, "service_id": r.service_id, "url": r.url, "placement": r.placement});
        out.push(Item {
            id: r.id.clone(),
            kind: "mcp_server",
            name: r.name.clone(),
            status: r.status.clone(),
            owner: r.created_by.clone(),
            created_at: Some(r.created_at.clone()),
            details,
        });
    }
    Ok(())
}

fn rows(kind: &'static str, rows: Vec<[String; 5]>) -> impl Iterator<Item = Item> {
    rows.into_iter()
        .map(move |[id, name, status, owner, created_at]| Item {
            id,
            kind,
            name,
            status,
            owner: Some(owner).filter(|o| !o.is_empty()),
            created_at: Some(created_at),
            details: json!({}),
        })
}

/// Every item `who` may read, filtered and sorted by kind then name, with whether the
/// engine answered.
pub async fn list(app: &App, who: &Principal, f: &Filters) -> Result<(Vec<Item>, bool)> {
    let kinds: Vec<&str> = match &f.kind {
        None => KINDS.to_vec(),
        Some(k) => k
            .split(',')
            .map(str::trim)
            .map(|k| {
                KINDS.iter().find(|x| **x == k).copied().ok_or_else(|| {
                    Error::validation(format!("unknown type '{k}'"))
                        .with_detail("type", "service, container, mcp_server, cluster, device")
                })
            })
            .collect::<Result<_>>()?,
    };
    let mut out = Vec::new();
    let mut engine = true;
    if can(who, Domain::Services) && (kinds.contains(&"service") || kinds.contains(&"container")) {
        engine = services(app, &mut out).await?;
    }
    if can(who, Domain::Mcp) && kinds.contains(&"mcp_server") {
        mcp_servers(app, who, &mut out).await?;
    }
    if can(who, Domain::Kubernetes) && kinds.contains(&"cluster") {
        out.extend(rows(
            "cluster",
            app.store.read(crate::kubernetes::store::inventory).await?,
        ));
    }
    if can(who, Domain::Network) && kinds.contains(&"device") {
        out.extend(rows(
            "device",
            app.store.read(crate::network::store::inventory).await?,
        ));
    }
    let search = f.search.as_deref().map(str::to_lowercase);
    out.retain(|i| {
        kinds.contains(&i.kind)
            && f.status.as_ref().is_none_or(|s| &i.status == s)
            && f.owner.as_ref().is_none_or(|o| i.owner.as_ref() == Some(o))
            && search
                .as_ref()
                .is_none_or(|s| i.name.to_lowercase().contains(s))
    });
    out.sort_by(|a, b| {
        (KINDS.iter().position(|k| *k == a.kind), &a.name)
            .cmp(&(KINDS.iter().position(|k| *k == b.kind), &b.name))
    });
    Ok((out, engine))
}

/// `POST /resources`: a service from a size template.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewResource {
    /// `service` (or its alias `container`); other seed kinds such as `VM` do not exist
    /// on a single-node appliance.
    #[serde(rename = "type")]
    pub kind: String,
    /// The service's name.
    pub name: String,
    /// The image to run (present locally).
    pub image: String,
    /// A template of `[resources.sizes]`; `resources.default_size` when absent.
    pub size: Option<String>,
    /// Start it at once (default true).
    pub start: Option<bool>,
}

/// Creates the service `r` describes, as `who`.
pub async fn create(
    app: &App,
    who: &Principal,
    r: NewResource,
) -> Result<crate::services::Service> {
    if r.kind != "service" && r.kind != "container" {
        return Err(Error::validation(format!("type '{}' cannot be created here", r.kind))
            .with_detail("type", "service (a container with CPU and memory limits); VMs and regions do not exist on this appliance"));
    }
    let cfg = &app.settings.resources;
    let size_name = r.size.unwrap_or_else(|| cfg.default_size.clone());
    let size = cfg.sizes.get(&size_name).ok_or_else(|| {
        let known: Vec<&str> = cfg.sizes.keys().map(String::as_str).collect();
        Error::validation(format!("unknown size '{size_name}'"))
            .with_detail("size", format!("one of {}", known.join(", ")))
    })?;
    let spec = crate::services::ServiceSpec {
        name: r.name,
        image: r.image,
        resources: crate::services::model::Resources {
            cpu_millicores: Some(size.cpu_millicores),
            memory_mb: Some(size.memory_mb),
        },
        ..Default::default()
    };
    crate::services::lifecycle::create(
        app,
        &crate::audit::Actor::from(who),
        spec,
        r.start.unwrap_or(true),
    )
    .await
}
