//! A server's configuration: checked against its entry's JSON Schema (draft 2020-12,
//! the `jsonschema` crate) and rendered into container arguments and environment.
//! Secret fields go to the configuration vault and reach the container only as
//! `${secret:<key>}` references resolved at start.

use super::model::{ArgSpec, Entry, is_secret};
use crate::error::{Error, Result};
use serde_json::Value;
use std::collections::BTreeMap;

/// Outcome of [`check`] for a configuration that breaks no rule other than `required`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// Every required field is present.
    Complete,
    /// JSON pointers of the required fields that are missing.
    Missing(Vec<String>),
}

/// Checks `config` against the entry's schema. Missing required fields are reported as
/// [`Checked::Missing`] (the server can exist, `unconfigured`); any other violation is
/// a 400 `VALIDATION_ERROR` with one detail per violation whose `field` is the JSON
/// pointer (RFC 6901) of the offending value. Messages about secret fields never show
/// the value.
pub fn check(entry: &Entry, config: &Value) -> Result<Checked> {
    let validator = jsonschema::draft202012::new(&entry.spec.config_schema).map_err(|e| {
        Error::internal(anyhow::anyhow!(
            "catalog entry '{}' has an invalid schema: {e}",
            entry.spec.name
        ))
    })?;
    let mut missing = Vec::new();
    let mut invalid: Vec<(String, String)> = Vec::new();
    for e in validator.iter_errors(config) {
        let at = e.instance_path().to_string();
        match e.kind() {
            jsonschema::error::ValidationErrorKind::Required { property } => {
                let name = property.as_str().unwrap_or_default();
                missing.push(format!("{at}/{}", escape(name)));
            }
            kind => {
                let issue = if is_secret(&entry.secret_fields, &at) {
                    format!("does not satisfy the schema keyword '{}'", kind.keyword())
                } else {
                    e.to_string()
                };
                invalid.push((if at.is_empty() { "/".into() } else { at }, issue));
            }
        }
    }
    if let Some(((field, issue), rest)) = invalid.split_first() {
        let mut err = Error::field(field.clone(), issue.clone());
        err.message = "config does not match the catalog entry's config_schema".into();
        for (f, i) in rest {
            err = err.with_detail(f.clone(), i.clone());
        }
        return Err(err);
    }
    Ok(if missing.is_empty() {
        Checked::Complete
    } else {
        Checked::Missing(missing)
    })
}

/// RFC 6901 escaping of one reference token.
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// What a configuration becomes.
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    /// The container command after the ENTRYPOINT: default args, then mapped args.
    pub args: Vec<String>,
    /// Environment; secret fields appear as `${secret:<key>}` references.
    pub env: BTreeMap<String, String>,
    /// Config keys to write as secrets: `(key, value)`.
    pub secrets: Vec<(String, Value)>,
    /// The configuration without its secret fields (what is stored in clear).
    pub public: Value,
}

/// One configuration-key segment: lowercase, characters outside `a-z 0-9 - _`
/// replaced by `_`, starting with a letter or digit.
fn segment(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        out.insert(0, 'f');
    }
    out
}

/// The config key holding secret field `field` for one configuration version `stem`
/// (the server name plus a random suffix, so a new configuration never overwrites the
/// keys the running one refers to): `mcp.<stem>.<field>`.
pub fn secret_key(stem: &str, field: &str) -> String {
    format!(
        "mcp.{}.{}",
        segment(&stem.replace('.', "-")),
        segment(field)
    )
}

/// Whether config key `key` (from [`secret_key`]) holds top-level field `field`.
pub fn key_holds(key: &str, field: &str) -> bool {
    key.rsplit('.').next() == Some(segment(field).as_str())
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Keeps a user value literal in a service env (`${` would start a reference).
fn literal(s: &str) -> String {
    s.replace("${", "$${")
}

/// Renders `config` (call after [`check`]); secret keys are named after `stem`.
pub fn render(entry: &Entry, stem: &str, config: &Value) -> Rendered {
    let mut r = Rendered {
        args: entry.spec.args.clone(),
        ..Rendered::default()
    };
    for arg in &entry.spec.config_mapping.args {
        match arg {
            ArgSpec::Literal(s) => r.args.push(s.clone()),
            ArgSpec::Field { field } => match config.pointer(field) {
                None | Some(Value::Null) => {}
                Some(Value::Array(items)) => r.args.extend(items.iter().map(text)),
                Some(v) => r.args.push(text(v)),
            },
        }
    }
    for (var, ptr) in &entry.spec.config_mapping.env {
        let Some(v) = config.pointer(ptr).filter(|v| !v.is_null()) else {
            continue;
        };
        if is_secret(&entry.secret_fields, ptr) {
            let key = secret_key(stem, ptr.trim_start_matches('/'));
            r.env.insert(var.clone(), format!("${{secret:{key}}}"));
            r.secrets.push((key, v.clone()));
        } else {
            r.env.insert(var.clone(), literal(&text(v)));
        }
    }
    let mut public = config.clone();
    if let Value::Object(m) = &mut public {
        for s in &entry.secret_fields {
            m.remove(s);
        }
    }
    r.public = public;
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::model::EntrySpec;
    use serde_json::json;

    fn entry() -> Entry {
        let spec: EntrySpec = serde_json::from_value(json!({
            "name": "x", "title": "X", "image": "img:1", "transport": "stdio", "args": ["run"],
            "config_schema": {"type": "object", "properties": {
                "token": {"type": "string", "writeOnly": true, "minLength": 4},
                "level": {"type": "integer"},
                "dirs": {"type": "array", "items": {"type": "string"}}},
                "required": ["token", "dirs"], "additionalProperties": false},
            "config_mapping": {"env": {"TOKEN": "/token", "LEVEL": "/level"}, "args": ["--dirs", {"field": "/dirs"}]}
        }))
        .unwrap();
        Entry::new(spec, false, None, None)
    }

    #[test]
    fn missing_required_fields_are_reported_as_pointers() {
        let c = check(&entry(), &json!({"level": 1})).unwrap();
        assert_eq!(c, Checked::Missing(vec!["/token".into(), "/dirs".into()]));
    }

    #[test]
    fn violations_name_the_field_and_hide_secret_values() {
        let e = check(
            &entry(),
            &json!({"level": "high", "token": "abc", "dirs": [1]}),
        )
        .unwrap_err();
        let fields: Vec<_> = e.details.iter().map(|d| d.field.as_str()).collect();
        assert!(fields.contains(&"/level"), "{fields:?}");
        assert!(fields.contains(&"/dirs/0"), "{fields:?}");
        let token = e.details.iter().find(|d| d.field == "/token").unwrap();
        assert!(!token.issue.contains("abc"), "{}", token.issue);
        let e = check(&entry(), &json!({"token": "abcd", "dirs": [], "extra": 1})).unwrap_err();
        assert_eq!(e.details[0].field, "/");
    }

    #[test]
    fn render_maps_args_env_and_secrets() {
        let r = render(
            &entry(),
            "my.srv",
            &json!({"token": "s3cret", "level": 2, "dirs": ["/a", "/b"]}),
        );
        assert_eq!(r.args, vec!["run", "--dirs", "/a", "/b"]);
        assert_eq!(r.env["LEVEL"], "2");
        assert_eq!(r.env["TOKEN"], "${secret:mcp.my-srv.token}");
        assert_eq!(
            r.secrets,
            vec![("mcp.my-srv.token".to_string(), json!("s3cret"))]
        );
        assert_eq!(r.public, json!({"level": 2, "dirs": ["/a", "/b"]}));
        assert!(key_holds(&secret_key("a", "Weird/Key"), "Weird/Key"));
        assert!(!key_holds(&secret_key("a", "token"), "tok"));
    }
}
