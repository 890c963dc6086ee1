//! `labelSelector` and `fieldSelector` of list requests, parsed and matched the way the
//! real API server does (equality, inequality, existence and set-based terms).

use serde_json::Value;

use super::status::{ApiError, ApiResult, bad_request};

/// One label selector term.
#[derive(Debug, Clone)]
enum Term {
    Eq(String, String),
    Ne(String, String),
    Exists(String),
    NotExists(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

/// A parsed label selector (all terms must match).
#[derive(Debug, Clone, Default)]
pub struct LabelSelector(Vec<Term>);

/// Splits on commas that are not inside parentheses.
fn split_terms(s: &str) -> Vec<String> {
    let (mut out, mut cur, mut depth) = (Vec::new(), String::new(), 0);
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out.into_iter()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

fn set_values(rest: &str, raw: &str) -> ApiResult<Vec<String>> {
    let rest = rest.trim();
    let inner = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| bad_request(format!("unable to parse requirement: {raw}")))?;
    Ok(inner.split(',').map(|v| v.trim().to_string()).collect())
}

fn parse_term(t: &str) -> ApiResult<Term> {
    if let Some(k) = t.strip_prefix('!') {
        return Ok(Term::NotExists(k.trim().to_string()));
    }
    if let Some((k, v)) = t.split_once("!=") {
        return Ok(Term::Ne(k.trim().into(), v.trim().into()));
    }
    if let Some((k, v)) = t.split_once("==") {
        return Ok(Term::Eq(k.trim().into(), v.trim().into()));
    }
    if let Some((k, v)) = t.split_once('=') {
        return Ok(Term::Eq(k.trim().into(), v.trim().into()));
    }
    if let Some((k, rest)) = t.split_once(" notin ") {
        return Ok(Term::NotIn(k.trim().into(), set_values(rest, t)?));
    }
    if let Some((k, rest)) = t.split_once(" in ") {
        return Ok(Term::In(k.trim().into(), set_values(rest, t)?));
    }
    if t.contains(' ') || t.contains('(') {
        return Err(bad_request(format!("unable to parse requirement: {t}")));
    }
    Ok(Term::Exists(t.to_string()))
}

impl LabelSelector {
    /// Parses a `labelSelector` query value.
    pub fn parse(s: &str) -> ApiResult<LabelSelector> {
        split_terms(s)
            .iter()
            .map(|t| parse_term(t))
            .collect::<ApiResult<Vec<_>>>()
            .map(LabelSelector)
    }

    /// Whether an object's `metadata.labels` match.
    pub fn matches(&self, obj: &Value) -> bool {
        let labels = &obj["metadata"]["labels"];
        let get = |k: &str| labels.get(k).and_then(Value::as_str);
        self.0.iter().all(|t| match t {
            Term::Eq(k, v) => get(k) == Some(v.as_str()),
            Term::Ne(k, v) => get(k) != Some(v.as_str()),
            Term::Exists(k) => get(k).is_some(),
            Term::NotExists(k) => get(k).is_none(),
            Term::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Term::NotIn(k, vs) => get(k).is_none_or(|x| !vs.iter().any(|v| v == x)),
        })
    }
}

/// A parsed field selector: `(path, value, equal)` terms.
#[derive(Debug, Clone, Default)]
pub struct FieldSelector(Vec<(String, String, bool)>);

/// Field paths the fake supports (a subset of what the real server accepts per kind).
const FIELDS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "status.phase",
    "spec.nodeName",
];

impl FieldSelector {
    /// Parses a `fieldSelector`; an unknown field is a 400 like the real server's.
    pub fn parse(s: &str) -> ApiResult<FieldSelector> {
        let mut terms = Vec::new();
        for t in split_terms(s) {
            let (k, v, eq) = if let Some((k, v)) = t.split_once("!=") {
                (k, v, false)
            } else if let Some((k, v)) = t.split_once("==") {
                (k, v, true)
            } else if let Some((k, v)) = t.split_once('=') {
                (k, v, true)
            } else {
                return Err(bad_request(format!("invalid selector: '{s}'")));
            };
            let k = k.trim();
            if !FIELDS.contains(&k) {
                return Err(field_not_supported(k));
            }
            terms.push((k.to_string(), v.trim().to_string(), eq));
        }
        Ok(FieldSelector(terms))
    }

    /// Whether the object's fields match (a missing field is the empty string).
    pub fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|(path, want, eq)| {
            let mut cur = obj;
            for part in path.split('.') {
                cur = &cur[part];
            }
            let have = cur.as_str().unwrap_or("");
            (have == want) == *eq
        })
    }
}

fn field_not_supported(k: &str) -> ApiError {
    bad_request(format!("field label not supported: {k}"))
}
