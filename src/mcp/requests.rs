//! What clients send to create and change MCP servers (`POST /mcp/servers`,
//! `PATCH /mcp/servers/{id}`, `PUT /mcp/servers/{id}/config`), and its checks: a valid
//! create request becomes a [`ServerRecord`] ([`plan`]).

use super::backing::ContainerPlan;
use super::model::{Counts, Placement, ServerRecord, Transport, status};
use crate::audit::Actor;
use crate::error::{Error, Result};
use crate::services::VolumeSpec;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// `POST /mcp/servers`: managed `{name, image, command?, args?, env?, volumes?,
/// transport, port?, path?}`, remote `{name, url, headers?}`, or from the catalog
/// `{name, registry, config?}` (see [`crate::catalog`]).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateServer {
    /// Unique name, 1–63 of `a-z 0-9 - _ .` starting with a letter or digit; a managed server's
    /// also names its service, so only `a-z 0-9 -` there.
    pub name: String,
    /// Managed: image of the container (must exist locally).
    pub image: Option<String>,
    /// Managed: replaces the image's CMD; `args` follow it.
    pub command: Option<Vec<String>>,
    /// Managed: arguments after the image's ENTRYPOINT (or after `command`).
    pub args: Option<Vec<String>>,
    /// Managed: container environment, variable → value; values may hold `${secret:<key>}`.
    pub env: Option<BTreeMap<String, String>>,
    /// Managed or catalog: mounts, as a service's `volumes`.
    pub volumes: Option<Vec<VolumeSpec>>,
    /// `stdio` (default for managed) or `streamable_http` (the only one for remote).
    pub transport: Option<Transport>,
    /// Managed streamable HTTP: container port of the endpoint.
    pub port: Option<u16>,
    /// Managed streamable HTTP: path of the endpoint (default `/mcp`).
    pub path: Option<String>,
    /// Remote: `http(s)://…` endpoint.
    pub url: Option<String>,
    /// Remote: extra request headers; values are secrets, never returned, and may hold
    /// `${secret:<config key>}` references resolved when the session opens.
    pub headers: Option<BTreeMap<String, String>>,
    /// Catalog: name of the entry the server is made from (image, transport and
    /// arguments come from it).
    pub registry: Option<String>,
    /// Catalog: the configuration, checked against the entry's `config_schema`.
    pub config: Option<Value>,
    /// Managed: run on a registered Kubernetes cluster instead of the local engine.
    pub placement: Option<PlacementRequest>,
}

/// `placement` of a create: a registered cluster (id or name) and a namespace there.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlacementRequest {
    /// Cluster id or name.
    pub cluster: String,
    /// Namespace (an RFC 1123 label), which must exist.
    pub namespace: String,
}

/// `PUT /mcp/servers/{id}/config`: the whole new configuration of a server made from
/// a catalog entry (secret fields must be sent again).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reconfigure {
    /// The whole configuration object, checked against the entry's `config_schema`; must be
    /// complete.
    pub config: Value,
}

/// `PATCH /mcp/servers/{id}`: only the fields sent change.
///
/// Connection settings: remote `url`, `headers` (values are secrets, never returned);
/// managed streamable HTTP `port`, `path`. The session is reopened on the next call.
///
/// Container settings, for managed servers made without a catalog entry (a catalog
/// server's come from its entry: `PUT /mcp/servers/{id}/config`): `image` (must exist
/// locally), `command`, `args`, `env` (replaces the whole environment; values are
/// never returned or audited), `volumes` (replaces the list), validated like
/// [`CreateServer`]. `command` followed by `args` is the container's `Cmd`, stored as
/// one list, so sending either replaces both (send both to keep a `command`); empty
/// means the image's default. The container is recreated through the services
/// domain's update; a running server gets a new session on the new container and is
/// discovered again, a stopped one stays stopped. On failure (image missing, the new
/// container exits at once or does not speak MCP) the previous container settings are
/// restored and the error returned.
///
/// A server placed on a cluster takes `image` (pulled by the cluster, not checked
/// locally), `command`, `args`, `env` and, for streamable HTTP, `port` and `path`; not
/// `volumes`. Container settings and `port` roll its Deployment's pod
/// ([`super::placement::update`]), put back when the new pod does not get ready or
/// does not speak MCP.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchServer {
    /// Remote: new `http(s)://…` endpoint.
    pub url: Option<String>,
    /// Remote: replaces every extra header; values are secrets and may hold `${secret:<key>}`.
    pub headers: Option<BTreeMap<String, String>>,
    /// Managed `streamable_http`: new container port, 1–65535.
    pub port: Option<u16>,
    /// Managed `streamable_http`: new endpoint path, starting with `/`, no spaces.
    pub path: Option<String>,
    /// Managed, not catalog: new image reference, present locally.
    pub image: Option<String>,
    /// Managed, not catalog: replaces the image's CMD (replaces `command` + `args` as one list).
    pub command: Option<Vec<String>>,
    /// Managed, not catalog: arguments after `command` (replaces `command` + `args` as one list).
    pub args: Option<Vec<String>>,
    /// Managed, not catalog: replaces the whole environment; values never returned or audited.
    pub env: Option<BTreeMap<String, String>>,
    /// Managed, not catalog: replaces the list of mounts.
    pub volumes: Option<Vec<VolumeSpec>>,
}

impl PatchServer {
    /// Names of the fields sent, in declaration order (for errors and the audit entry).
    pub(super) fn sent(&self) -> Vec<&'static str> {
        [
            ("url", self.url.is_some()),
            ("headers", self.headers.is_some()),
            ("port", self.port.is_some()),
            ("path", self.path.is_some()),
            ("image", self.image.is_some()),
            ("command", self.command.is_some()),
            ("args", self.args.is_some()),
            ("env", self.env.is_some()),
            ("volumes", self.volumes.is_some()),
        ]
        .into_iter()
        .filter_map(|(f, set)| set.then_some(f))
        .collect()
    }

    /// The first container field sent, if any.
    pub(super) fn container_field(&self) -> Option<&'static str> {
        self.sent()
            .into_iter()
            .find(|f| CONTAINER_FIELDS.contains(f))
    }

    /// `current` with the container fields sent applied.
    pub(super) fn container_plan(&self, current: &ContainerPlan) -> ContainerPlan {
        let mut plan = current.clone();
        if let Some(image) = &self.image {
            plan.image = image.clone();
        }
        if self.command.is_some() || self.args.is_some() {
            plan.cmd = ContainerPlan::cmd_of(self.command.clone(), self.args.clone());
        }
        if let Some(env) = &self.env {
            plan.env = env.clone();
        }
        if let Some(volumes) = &self.volumes {
            plan.volumes = volumes.clone();
        }
        plan
    }
}

/// The [`PatchServer`] fields that change a managed server's container.
pub(super) const CONTAINER_FIELDS: [&str; 5] = ["image", "command", "args", "env", "volumes"];

/// 400 on `name` unless it is a valid server name (shared with clusters).
pub use crate::text::check_name;

/// 400 on `url` unless it is an absolute `http` or `https` URL with a host.
pub(super) fn check_url(url: &str) -> Result<()> {
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        _ => Err(Error::field("url", "must be an absolute http or https URL")),
    }
}

/// 400 on `headers.<Name>` for an invalid header name or value (the value is never
/// echoed: it is a secret).
pub(super) fn check_headers(headers: &BTreeMap<String, String>) -> Result<()> {
    for (k, v) in headers {
        if http::HeaderName::from_bytes(k.as_bytes()).is_err() {
            return Err(Error::field(format!("headers.{k}"), "invalid header name"));
        }
        if http::HeaderValue::from_str(v).is_err() {
            return Err(Error::field(format!("headers.{k}"), "invalid header value"));
        }
    }
    Ok(())
}

/// 400 on `path` unless it starts with `/` and holds no whitespace or control
/// characters.
pub(super) fn check_path(path: &str) -> Result<()> {
    if !path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::field(
            "path",
            "must start with '/' and hold no spaces",
        ));
    }
    Ok(())
}

/// Checks a create request and builds the record (not yet stored; header values are
/// sealed by the create). A managed record's `service_id` is `Some("")` until its
/// service exists. 400 naming the field on bad input.
pub(super) fn plan(req: &CreateServer, actor: &Actor) -> Result<ServerRecord> {
    check_name(&req.name)?;
    let mut r = blank_record(req, actor);
    match (&req.image, &req.url) {
        (Some(_), Some(_)) => Err(Error::field(
            "url",
            "give either image (managed) or url (remote), not both",
        )),
        (None, None) => Err(Error::field(
            "image",
            "required (or url for a remote server)",
        )),
        (None, Some(url)) => plan_remote(req, url, &mut r),
        (Some(image), None) => plan_managed(req, image, &mut r),
    }?;
    Ok(r)
}

/// A new record named as asked, `running`, stdio, with nothing discovered yet.
fn blank_record(req: &CreateServer, actor: &Actor) -> ServerRecord {
    let now = crate::time::now_rfc3339();
    ServerRecord {
        id: crate::ids::new_id("mcp"),
        name: req.name.clone(),
        transport: Transport::Stdio,
        service_id: None,
        url: None,
        header_names: Vec::new(),
        headers_sealed: None,
        port: None,
        path: None,
        status: status::RUNNING.into(),
        engine: None,
        server_info: None,
        capabilities: None,
        counts: Counts::default(),
        discovered_at: None,
        created_by: actor.user_id.clone(),
        created_at: now.clone(),
        updated_at: now,
        registry: None,
        placement: None,
    }
}

/// The remote form: `url` and `headers` only, over streamable HTTP.
fn plan_remote(req: &CreateServer, url: &str, r: &mut ServerRecord) -> Result<()> {
    let managed_only = [
        ("placement", req.placement.is_some()),
        ("command", req.command.is_some()),
        ("args", req.args.is_some()),
        ("env", req.env.is_some()),
        ("volumes", req.volumes.is_some()),
        ("port", req.port.is_some()),
        ("path", req.path.is_some()),
    ];
    if let Some((field, _)) = managed_only.iter().find(|(_, set)| *set) {
        return Err(Error::field(
            *field,
            "only for managed servers (with image)",
        ));
    }
    if req.transport == Some(Transport::Stdio) {
        return Err(Error::field(
            "transport",
            "a remote server speaks streamable_http",
        ));
    }
    check_url(url)?;
    check_headers(req.headers.as_ref().unwrap_or(&BTreeMap::new()))?;
    r.transport = Transport::StreamableHttp;
    r.url = Some(url.to_string());
    Ok(())
}

/// The managed form: an image, and a port and path for streamable HTTP.
fn plan_managed(req: &CreateServer, image: &str, r: &mut ServerRecord) -> Result<()> {
    crate::images::reference::validate("image", image)?;
    if req.headers.is_some() {
        return Err(Error::field(
            "headers",
            "only for remote servers (with url)",
        ));
    }
    r.transport = req.transport.unwrap_or(Transport::Stdio);
    match r.transport {
        Transport::Stdio => {
            if req.port.is_some() {
                return Err(Error::field("port", "only for transport streamable_http"));
            }
            if req.path.is_some() {
                return Err(Error::field("path", "only for transport streamable_http"));
            }
        }
        Transport::StreamableHttp => {
            let port = req.port.filter(|p| *p > 0).ok_or_else(|| {
                Error::field("port", "required for transport streamable_http (1-65535)")
            })?;
            let path = req.path.clone().unwrap_or_else(|| "/mcp".into());
            check_path(&path)?;
            r.port = Some(port);
            r.path = Some(path);
        }
    }
    if let Some(p) = &req.placement {
        crate::kubernetes::objects::check_label("placement.namespace", &p.namespace)?;
        if req.volumes.is_some() {
            return Err(Error::field("volumes", "not available with placement"));
        }
        // The cluster id is resolved by the create.
        r.placement = Some(Placement {
            cluster_id: p.cluster.clone(),
            namespace: p.namespace.clone(),
            workload: crate::kubernetes::workloads::name_for(&r.name, &r.id),
        });
        return Ok(());
    }
    // Placeholder until the service exists; set by the create.
    r.service_id = Some(String::new());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> ContainerPlan {
        ContainerPlan {
            name: "fs".into(),
            image: "img:1".into(),
            cmd: Some(vec!["/data".into()]),
            env: BTreeMap::from([("A".into(), "1".into())]),
            volumes: Vec::new(),
            stdin: true,
        }
    }

    #[test]
    fn cmd_is_command_then_args_and_empty_means_the_image_default() {
        let v = |s: &[&str]| Some(s.iter().map(|x| x.to_string()).collect::<Vec<_>>());
        assert_eq!(ContainerPlan::cmd_of(None, None), None);
        assert_eq!(ContainerPlan::cmd_of(v(&[]), v(&[])), None);
        assert_eq!(ContainerPlan::cmd_of(None, v(&["stdio"])), v(&["stdio"]));
        assert_eq!(
            ContainerPlan::cmd_of(v(&["node", "x.js"]), v(&["/data"])),
            v(&["node", "x.js", "/data"])
        );
    }

    #[test]
    fn a_patch_changes_only_the_container_fields_sent() {
        let none = PatchServer::default();
        assert_eq!(none.container_plan(&plan()), plan());
        assert_eq!(none.container_field(), None);

        let args = PatchServer {
            args: Some(vec!["/data/notes".into()]),
            ..PatchServer::default()
        };
        let p = args.container_plan(&plan());
        assert_eq!(p.cmd, Some(vec!["/data/notes".to_string()]));
        assert_eq!((p.image.as_str(), &p.env), ("img:1", &plan().env));
        assert_eq!(args.container_field(), Some("args"));

        let image = PatchServer {
            port: Some(8080),
            image: Some("img:2".into()),
            env: Some(BTreeMap::new()),
            ..PatchServer::default()
        };
        let p = image.container_plan(&plan());
        assert_eq!((p.image.as_str(), p.env.len()), ("img:2", 0));
        assert_eq!(
            p.cmd,
            plan().cmd,
            "Cmd kept when neither command nor args is sent"
        );
        assert_eq!(image.sent(), vec!["port", "image", "env"]);
        assert_eq!(image.container_field(), Some("image"));
    }
}
