//! `${secret:<key>}` references in service and MCP server env values.
//!
//! A value may hold any number of references among plain text
//! (`"Bearer ${secret:github.token}"`). References are checked when a service or MCP
//! server is created or changed (an unknown key is a 400 naming the env variable) and
//! resolved only when a container starts or a connection opens, so the stored spec and
//! every API answer show the reference, never the value. A string entry resolves to
//! the string; any other JSON value to its JSON text. `$${` escapes a literal `${`.

use crate::error::{Error, Result};
use crate::vault::Vault;
use rusqlite::Connection;
use std::collections::BTreeMap;
use zeroize::Zeroizing;

const OPEN: &str = "${secret:";

/// One piece of a value: literal text or a reference.
#[derive(Debug, PartialEq, Eq)]
enum Part<'a> {
    Text(&'a str),
    Ref(&'a str),
}

/// Splits a value into text and references. An unterminated `${secret:` is an error.
fn parse(value: &str) -> std::result::Result<Vec<Part<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(i) = rest.find("${") {
        if i > 0 && rest[..i].ends_with('$') {
            // `$${` → literal `${`
            out.push(Part::Text(&rest[..i]));
            out.push(Part::Text("{"));
            rest = &rest[i + 2..];
            continue;
        }
        if !rest[i..].starts_with(OPEN) {
            out.push(Part::Text(&rest[..i + 2]));
            rest = &rest[i + 2..];
            continue;
        }
        out.push(Part::Text(&rest[..i]));
        let after = &rest[i + OPEN.len()..];
        let end = after
            .find('}')
            .ok_or_else(|| "unterminated ${secret:…} reference".to_string())?;
        out.push(Part::Ref(&after[..end]));
        rest = &after[end + 1..];
    }
    out.push(Part::Text(rest));
    Ok(out.into_iter().filter(|p| *p != Part::Text("")).collect())
}

/// The config keys `value` refers to.
pub fn referenced_keys(value: &str) -> Vec<String> {
    parse(value)
        .map(|parts| {
            parts
                .into_iter()
                .filter_map(|p| match p {
                    Part::Ref(k) => Some(k.to_string()),
                    Part::Text(_) => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Whether any env value holds a reference to `key`.
pub fn env_references(env: &BTreeMap<String, String>, key: &str) -> bool {
    env.values()
        .any(|v| referenced_keys(v).iter().any(|k| k == key))
}

/// `<field>.<name>`, or `<name>` when `field` is empty.
fn field_of(field: &str, name: &str) -> String {
    if field.is_empty() {
        name.to_string()
    } else {
        format!("{field}.{name}")
    }
}

/// Checks every reference in `env` names an existing config entry. Errors:
/// `VALIDATION_ERROR` with field `<field>.<VAR>` (`<VAR>` when `field` is empty).
pub fn check(conn: &Connection, field: &str, env: &BTreeMap<String, String>) -> Result<()> {
    for (name, value) in env {
        let parts = parse(value).map_err(|m| Error::field(field_of(field, name), m))?;
        for p in parts {
            if let Part::Ref(key) = p
                && !super::store::exists(conn, key)?
            {
                return Err(Error::field(
                    field_of(field, name),
                    format!("refers to unknown config key '{key}'"),
                ));
            }
        }
    }
    Ok(())
}

/// Resolves every reference in `env` (at container start). A key deleted since the
/// check is a `VALIDATION_ERROR` naming `env.<VAR>`.
pub fn resolve(
    conn: &Connection,
    vault: &Vault,
    env: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, Zeroizing<String>>> {
    resolve_in(conn, vault, "env", env)
}

/// [`resolve`] with errors naming `<field>.<name>` (`<name>` when `field` is empty).
pub fn resolve_in(
    conn: &Connection,
    vault: &Vault,
    field: &str,
    values: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, Zeroizing<String>>> {
    let mut out = BTreeMap::new();
    for (name, value) in values {
        let f = field_of(field, name);
        let parts = parse(value).map_err(|m| Error::field(f.clone(), m))?;
        let mut s = Zeroizing::new(String::with_capacity(value.len()));
        for p in parts {
            match p {
                Part::Text(t) => s.push_str(t),
                Part::Ref(key) => s.push_str(&lookup(conn, vault, key, &f)?),
            }
        }
        out.insert(name.clone(), s);
    }
    Ok(out)
}

fn lookup(conn: &Connection, vault: &Vault, key: &str, field: &str) -> Result<Zeroizing<String>> {
    let json = match super::store::raw_value(conn, key)? {
        None => {
            return Err(Error::field(
                field.to_string(),
                format!("refers to unknown config key '{key}'"),
            ));
        }
        Some((Some(plain), _)) => Zeroizing::new(plain),
        Some((None, Some(sealed))) => vault.open_string(
            crate::vault::seal::RowRef {
                table: "config_entries",
                column: "sealed_value",
                id: key,
            },
            &sealed,
        )?,
        Some((None, None)) => Zeroizing::new("null".to_string()),
    };
    let v: serde_json::Value = serde_json::from_str(&json)?;
    Ok(Zeroizing::new(match v {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing() {
        assert_eq!(parse("plain").unwrap(), vec![Part::Text("plain")]);
        assert_eq!(
            parse("Bearer ${secret:gh.token}").unwrap(),
            vec![Part::Text("Bearer "), Part::Ref("gh.token")]
        );
        assert_eq!(
            parse("${secret:a}:${secret:b}").unwrap(),
            vec![Part::Ref("a"), Part::Text(":"), Part::Ref("b")]
        );
        assert_eq!(
            parse("cost $${secret:x} and ${HOME}").unwrap(),
            vec![
                Part::Text("cost $"),
                Part::Text("{"),
                Part::Text("secret:x} and ${"),
                Part::Text("HOME}")
            ]
        );
        assert!(parse("x ${secret:open").is_err());
        assert_eq!(referenced_keys("${secret:a}-${secret:b}"), ["a", "b"]);
    }
}
