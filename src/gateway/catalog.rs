//! What the gateway offers: the tools, resources, resource templates and prompts of
//! every running MCP server, taken from the discovery cache (refreshed on list-changed
//! notifications and on `discover`), with tool and prompt names namespaced
//! `<server>__<name>` so that two servers' `echo` tools stay apart. Resources keep
//! their URIs; a read goes to the server that listed the URI (or whose URI template
//! matches it). A caller sees only the servers, tools and resources their workspaces
//! grant ([`crate::workspaces::access`]); execution checks the same grants again.

use crate::app::App;
use crate::error::Result;
use crate::mcp::model::{Catalog, ServerRecord, status};
use crate::mcp::{discovery, records};
use crate::workspaces::access::{Grant, McpScope};
use serde_json::Value;

/// Separator between the server name and the server's own tool or prompt name.
pub const SEPARATOR: &str = "__";

/// `_meta` key naming the mcpd server an item came from (MCP `_meta` keys take a
/// reverse-DNS prefix, spec 2025-06-18 "General fields").
pub const META_SERVER: &str = "io.mcpd/server";

/// `<server>__<name>`.
pub fn namespaced(server: &str, name: &str) -> String {
    format!("{server}{SEPARATOR}{name}")
}

/// Splits a namespaced name into (server name, item name) using the known server
/// names. Server names may themselves contain `_`, so the longest server name that is
/// followed by `__` wins. `None` when no server matches or the item name is empty.
pub fn split<'a, 's>(
    namespaced: &'a str,
    servers: impl IntoIterator<Item = &'s str>,
) -> Option<(String, &'a str)> {
    servers
        .into_iter()
        .filter_map(|s| {
            namespaced
                .strip_prefix(s)
                .and_then(|rest| rest.strip_prefix(SEPARATOR))
                .filter(|rest| !rest.is_empty())
                .map(|rest| (s, rest))
        })
        .max_by_key(|(s, _)| s.len())
        .map(|(s, rest)| (s.to_string(), rest))
}

/// The servers whose items the gateway offers now: every server whose status is
/// `running`, ordered by name (so that a URI listed by two servers resolves the same
/// way every time).
pub async fn running_servers(app: &App) -> Result<Vec<ServerRecord>> {
    // `records` is ordered by name already.
    Ok(records::records(app)
        .await?
        .iter()
        .filter(|r| r.status == status::RUNNING)
        .cloned()
        .collect())
}

/// One list of every running server the caller's workspaces grant (`scope`), each item
/// as the server gave it, narrowed to the granted tools and resources (the same rule
/// as `GET /mcp/servers/{id}/tools`). A server whose list cannot be read (it went away
/// since) is left out and logged, so that one broken server does not hide the others.
pub async fn gather(
    app: &App,
    which: Catalog,
    scope: &McpScope,
) -> Result<Vec<(ServerRecord, Vec<Value>)>> {
    let mut out = Vec::new();
    for rec in running_servers(app).await? {
        let Some(grant) = scope.grant(&rec.id) else {
            continue;
        };
        match discovery::catalog(app, &rec.id, which).await {
            Ok(items) => {
                let items = items
                    .into_iter()
                    .filter(|item| granted(&grant, which, item))
                    .collect();
                out.push((rec, items));
            }
            Err(e) => {
                tracing::warn!(server = %rec.name, error = %e, "MCP gateway: server left out of a list");
            }
        }
    }
    Ok(out)
}

/// What the caller whose workspaces grant `scope` sees of list `which` through the
/// gateway: [`gather`]ed and [`relabel`]led (tools and prompts namespaced), as JSON.
/// The one definition of a caller's view, used by the lists and by the list-changed
/// notifications.
pub async fn view(app: &App, which: Catalog, scope: &McpScope) -> Result<Vec<Value>> {
    let rename = matches!(which, Catalog::Tools | Catalog::Prompts);
    Ok(gather(app, which, scope)
        .await?
        .into_iter()
        .flat_map(|(rec, items)| {
            items
                .into_iter()
                .map(move |item| relabel(&rec.name, item, rename))
        })
        .collect())
}

/// A short digest of a view (hex; equal lists give equal digests), to tell whether a
/// list changed without keeping it.
pub fn fingerprint(items: &[Value]) -> String {
    let json = serde_json::to_string(items).unwrap_or_default();
    crate::ids::sha256_hex(&json)[..16].to_string()
}

/// Whether `grant` lets the caller see `item` of list `which`.
fn granted(grant: &Grant, which: Catalog, item: &Value) -> bool {
    let field = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or_default();
    match which {
        Catalog::Tools => grant.allows_tool(field("name")),
        Catalog::Resources => grant.allows_resource(field("uri")),
        Catalog::ResourceTemplates | Catalog::Prompts => true,
    }
}

/// `item` with its `name` namespaced (tools and prompts) and the server named in
/// `_meta`.
pub fn relabel(server: &str, mut item: Value, rename: bool) -> Value {
    if let Value::Object(m) = &mut item {
        if rename && let Some(Value::String(name)) = m.get("name") {
            let full = namespaced(server, name);
            m.insert("name".into(), Value::String(full));
        }
        let meta = m
            .entry("_meta")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Value::Object(meta) = meta {
            meta.insert(META_SERVER.into(), Value::String(server.to_string()));
        }
    }
    item
}

/// Whether `uri` is an instance of the RFC 6570 `template` (each `{…}` expression
/// matches one or more characters; literal parts must match exactly). Enough for the
/// simple (level 1) templates MCP servers list.
pub fn template_matches(template: &str, uri: &str) -> bool {
    let mut literals = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        literals.push(&rest[..open]);
        rest = &rest[open + close + 1..];
    }
    let tail = rest;
    if literals.is_empty() {
        return template == uri;
    }
    // The first literal anchors the start, the tail anchors the end, and each literal
    // in between must follow a non-empty variable part.
    let Some(mut pos) = uri.strip_prefix(literals[0]).map(|_| literals[0].len()) else {
        return false;
    };
    for lit in &literals[1..] {
        // The variable before `lit` takes at least one character.
        let Some(first) = uri[pos..].chars().next() else {
            return false;
        };
        let from = pos + first.len_utf8();
        let hay = &uri[from..];
        match hay.find(lit) {
            Some(i) => pos = from + i + lit.len(),
            None => return false,
        }
    }
    // What is left is the last variable (non-empty) followed by the tail.
    let left = &uri[pos..];
    left.len() > tail.len() && left.ends_with(tail)
}

/// The server that offers resource `uri` to the caller: the first running server (by
/// name) in `scope` that listed it, else the first whose resource template matches it
/// (execution then checks the caller's resource grant on that server).
pub async fn resource_owner(
    app: &App,
    uri: &str,
    scope: &McpScope,
) -> Result<Option<ServerRecord>> {
    let listed = gather(app, Catalog::Resources, scope).await?;
    for (rec, items) in &listed {
        if items
            .iter()
            .any(|r| r.get("uri").and_then(Value::as_str) == Some(uri))
        {
            return Ok(Some(rec.clone()));
        }
    }
    for (rec, items) in gather(app, Catalog::ResourceTemplates, scope).await? {
        if items.iter().any(|t| {
            t.get("uriTemplate")
                .and_then(Value::as_str)
                .is_some_and(|tpl| template_matches(tpl, uri))
        }) {
            return Ok(Some(rec));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names<'a>(v: &'a [&'a str]) -> impl Iterator<Item = &'a str> + Clone {
        v.iter().copied()
    }

    #[test]
    fn split_takes_the_longest_server_name_followed_by_the_separator() {
        let servers = names(&["fs", "fs_x", "every"]);
        assert_eq!(
            split("fs__read_text_file", servers.clone()),
            Some(("fs".into(), "read_text_file"))
        );
        assert_eq!(
            split("fs_x__echo", servers.clone()),
            Some(("fs_x".into(), "echo"))
        );
        // A tool whose own name has `__` keeps it.
        assert_eq!(
            split("every__a__b", servers.clone()),
            Some(("every".into(), "a__b"))
        );
        assert_eq!(split("every__", servers.clone()), None);
        assert_eq!(split("echo", servers.clone()), None);
        assert_eq!(split("other__echo", servers.clone()), None);
    }

    #[test]
    fn relabel_namespaces_the_name_and_names_the_server_in_meta() {
        let t = relabel(
            "every",
            json!({"name": "echo", "_meta": {"x": 1}, "inputSchema": {}}),
            true,
        );
        assert_eq!(t["name"], "every__echo");
        assert_eq!(t["_meta"]["x"], 1);
        assert_eq!(t["_meta"][META_SERVER], "every");
        let r = relabel("every", json!({"uri": "demo://a", "name": "A"}), false);
        assert_eq!(r["name"], "A");
        assert_eq!(r["_meta"][META_SERVER], "every");
    }

    #[test]
    fn template_matching() {
        let t = "demo://resource/dynamic/text/{resourceId}";
        assert!(template_matches(t, "demo://resource/dynamic/text/7"));
        assert!(!template_matches(t, "demo://resource/dynamic/text/"));
        assert!(!template_matches(t, "demo://resource/dynamic/blob/7"));
        let t2 = "file:///{dir}/x/{name}.txt";
        assert!(template_matches(t2, "file:///a/x/b.txt"));
        assert!(!template_matches(t2, "file:///a/x/b.md"));
        assert!(!template_matches(t2, "file:///a/y/b.txt"));
        assert!(template_matches("plain://x", "plain://x"));
        assert!(!template_matches("plain://x", "plain://y"));
    }
}
