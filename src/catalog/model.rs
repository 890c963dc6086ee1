//! A catalog entry: a type of MCP server a user can create by name, with the JSON
//! Schema (draft 2020-12) of its configuration and how that configuration becomes the
//! container's arguments and environment.

use crate::error::{Error, Result};
use crate::mcp::model::Transport;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// One argument of the container command: a literal, or the value of a config field
/// (`{"field": "/pointer"}`; an array value gives one argument per item, a missing
/// optional field gives none, any other JSON value its text).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ArgSpec {
    /// A literal argument, passed as is.
    Literal(String),
    /// `{"field": "/pointer"}`: the value of that configuration field.
    Field {
        /// JSON pointer (RFC 6901) into the configuration.
        field: String,
    },
}

/// How configuration maps to the container: `env` names a variable for each field
/// (JSON pointer), `args` is appended after the entry's default `args`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, remote = "Self")]
pub struct ConfigMapping {
    /// Variable name (`A-Z a-z 0-9 _`) → JSON pointer (starting `/`) of the field it receives;
    /// secret fields may be mapped here only.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Arguments appended after the entry's `args`; secret fields may not appear here.
    #[serde(default)]
    pub args: Vec<ArgSpec>,
}
crate::json::object_only!(ConfigMapping, "a mapping object {env?, args?}", serialize);

/// The writable part of an entry: the body of `POST /mcp/registry` and `PUT
/// /mcp/registry/{name}` (the name comes from the path on `PUT`) and the content of an
/// `etc/catalog.d/*.json` file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntrySpec {
    /// Entry name, 1–63 of `a-z 0-9 - _ .` starting with a letter or digit; unique across built-in
    /// and added entries.
    pub name: String,
    /// Human title; non-empty, at most 256 bytes, no control characters.
    pub title: String,
    /// Free text, at most 1024 bytes (default `""`).
    #[serde(default)]
    pub description: String,
    /// Image of the container (must be present locally when a server is created).
    pub image: String,
    /// `stdio` or `streamable_http`.
    pub transport: Transport,
    /// Default arguments after the image's ENTRYPOINT (they replace its CMD).
    #[serde(default)]
    pub args: Vec<String>,
    /// Streamable HTTP: container port and path of the endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Streamable HTTP only: endpoint path, starting with `/`; left out when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// JSON Schema (draft 2020-12) of the configuration; an object schema. Top-level
    /// properties marked `writeOnly: true` or `x-secret: true` are secrets.
    pub config_schema: Value,
    /// How configuration fields become environment variables and arguments (default: none).
    #[serde(default)]
    pub config_mapping: ConfigMapping,
}

/// An entry as the API shows it: the spec plus where it comes from. Built-in entries
/// (shipped in `etc/catalog.d` or the configured `mcp.catalog_dir`) are read-only.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = CatalogEntry)]
pub struct Entry {
    /// The writable fields, flattened.
    #[serde(flatten)]
    #[schema(schema_with = open_spec_schema)]
    pub spec: EntrySpec,
    /// Shipped or from `mcp.catalog_dir`: read-only through the API, name reserved.
    pub builtin: bool,
    /// Names of the secret configuration fields (never stored in clear).
    pub secret_fields: Vec<String>,
    /// Creation time of an added entry (RFC 3339 UTC); `null` for built-in entries.
    pub created_at: Option<String>,
    /// Last replacement of an added entry (RFC 3339 UTC); `null` for built-in entries.
    pub updated_at: Option<String>,
}

/// The schema of [`EntrySpec`] inside an [`Entry`]: the same fields without the
/// request body's rule that no other member may appear (an entry adds its own).
fn open_spec_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    let mut schema = <EntrySpec as utoipa::PartialSchema>::schema();
    if let utoipa::openapi::RefOr::T(utoipa::openapi::schema::Schema::Object(o)) = &mut schema {
        o.additional_properties = None;
    }
    schema
}

/// `GET /mcp/servers/{id}/config`: the configuration of a server made from a catalog
/// entry, secret values left out.
// Fields in name order: the order the answer had when it was built as a JSON map.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ServerConfig {
    /// The configuration object, with the secret fields left out.
    pub config: Value,
    /// JSON pointers of the required fields not set (`[]` when complete).
    pub missing: Vec<String>,
    /// Name of the catalog entry the server was made from.
    pub registry: String,
    /// Names of the entry's secret fields (their values are never shown).
    pub secret_fields: Vec<String>,
    /// The server's status (`unconfigured` while required fields are missing).
    pub status: String,
}

impl Entry {
    /// An entry from its spec; `secret_fields` is derived from `config_schema`.
    pub fn new(
        spec: EntrySpec,
        builtin: bool,
        created_at: Option<String>,
        updated_at: Option<String>,
    ) -> Entry {
        Entry {
            secret_fields: secret_fields(&spec.config_schema),
            spec,
            builtin,
            created_at,
            updated_at,
        }
    }
}

/// Top-level properties marked `writeOnly: true` or `x-secret: true`.
pub fn secret_fields(schema: &Value) -> Vec<String> {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    props
        .iter()
        .filter(|(_, p)| {
            p.get("writeOnly").and_then(Value::as_bool) == Some(true)
                || p.get("x-secret").and_then(Value::as_bool) == Some(true)
        })
        .map(|(k, _)| k.clone())
        .collect()
}

/// The top-level field a pointer starts in (`/a/b` → `a`).
fn top_field(pointer: &str) -> &str {
    pointer
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("")
}

impl EntrySpec {
    /// Checks the spec: name, image, transport settings, a schema that compiles as
    /// draft 2020-12 and describes an object, mapping pointers, and secrets mapped
    /// only to environment variables (arguments are visible in the service spec).
    /// 400 naming the field otherwise.
    pub fn validate(&self) -> Result<()> {
        // Entry names follow the server name rule: a server may be created under its entry's name.
        crate::mcp::requests::check_name(&self.name)?;
        if self.title.trim().is_empty() {
            return Err(Error::field("title", "must not be empty"));
        }
        crate::text::check("title", &self.title, crate::text::MAX_TITLE_LEN)?;
        crate::text::description(&self.description)?;
        crate::images::reference::validate("image", &self.image)?;
        self.check_transport()?;
        if self.config_schema.get("type").and_then(Value::as_str) != Some("object") {
            return Err(Error::field(
                "config_schema",
                "must be a JSON Schema with \"type\": \"object\"",
            ));
        }
        if let Err(e) = jsonschema::draft202012::new(&self.config_schema) {
            return Err(Error::field(
                "config_schema",
                format!("not a valid JSON Schema (draft 2020-12): {e}"),
            ));
        }
        self.check_mapping()
    }

    /// `port`/`path` only for streamable HTTP, where `port` is required.
    fn check_transport(&self) -> Result<()> {
        match self.transport {
            Transport::Stdio => {
                if self.port.is_some() || self.path.is_some() {
                    let f = if self.port.is_some() { "port" } else { "path" };
                    return Err(Error::field(f, "only for transport streamable_http"));
                }
            }
            Transport::StreamableHttp => {
                if self.port.unwrap_or(0) == 0 {
                    return Err(Error::field(
                        "port",
                        "required for transport streamable_http (1-65535)",
                    ));
                }
                if let Some(p) = &self.path
                    && !p.starts_with('/')
                {
                    return Err(Error::field("path", "must start with '/'"));
                }
            }
        }
        Ok(())
    }

    /// Environment variable names, JSON pointers, and no secret field in `args`.
    fn check_mapping(&self) -> Result<()> {
        let secrets = secret_fields(&self.config_schema);
        for (var, ptr) in &self.config_mapping.env {
            if var.is_empty()
                || var.contains('=')
                || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                return Err(Error::field(
                    format!("config_mapping.env.{var}"),
                    "variable names are A-Z, a-z, 0-9 and '_'",
                ));
            }
            if !ptr.starts_with('/') {
                return Err(Error::field(
                    format!("config_mapping.env.{var}"),
                    "must be a JSON pointer into the configuration, like \"/token\"",
                ));
            }
        }
        for (i, arg) in self.config_mapping.args.iter().enumerate() {
            if let ArgSpec::Field { field } = arg {
                if !field.starts_with('/') {
                    return Err(Error::field(
                        format!("config_mapping.args[{i}].field"),
                        "must be a JSON pointer into the configuration, like \"/dirs\"",
                    ));
                }
                if secrets.iter().any(|s| s == top_field(field)) {
                    return Err(Error::field(
                        format!("config_mapping.args[{i}].field"),
                        "a secret field can only be mapped to an environment variable",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Whether `pointer` lies in secret field `secrets`.
pub fn is_secret(secrets: &[String], pointer: &str) -> bool {
    secrets.iter().any(|s| s == top_field(pointer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec() -> EntrySpec {
        serde_json::from_value(json!({
            "name": "x", "title": "X", "image": "img:1", "transport": "stdio",
            "config_schema": {"type": "object", "properties": {
                "token": {"type": "string", "writeOnly": true},
                "dirs": {"type": "array", "items": {"type": "string"}}}},
            "config_mapping": {"env": {"TOKEN": "/token"}, "args": ["--dirs", {"field": "/dirs"}]}
        }))
        .unwrap()
    }

    #[test]
    fn valid_spec_and_secret_fields() {
        let s = spec();
        s.validate().unwrap();
        assert_eq!(secret_fields(&s.config_schema), vec!["token".to_string()]);
        assert_eq!(s.config_mapping.args[0], ArgSpec::Literal("--dirs".into()));
    }

    #[test]
    fn secret_in_args_is_refused() {
        let mut s = spec();
        s.config_mapping.args.push(ArgSpec::Field {
            field: "/token".into(),
        });
        let e = s.validate().unwrap_err();
        assert_eq!(e.details[0].field, "config_mapping.args[2].field");
    }

    #[test]
    fn bad_schema_is_refused() {
        let mut s = spec();
        s.config_schema = json!({"type": "object", "properties": {"a": {"type": 5}}});
        assert_eq!(s.validate().unwrap_err().details[0].field, "config_schema");
    }
}
