//! Keeping secrets and bulk out of request logs: values under secret-looking keys
//! become `"[REDACTED]"`, and a payload larger than the cap is cut to a string prefix.

use serde_json::Value;

/// What replaces a secret value.
pub const REDACTED: &str = "[REDACTED]";

/// Key fragments that mark a value as secret (compared lowercase, ignoring `-` and `_`).
const SECRET_KEY_PARTS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "authorization",
    "credential",
    "privatekey",
    "cookie",
    "sessionid",
    "signature",
];

/// Whether a JSON object key names a secret (`password`, `api_key`, `X-Auth-Token`, …).
pub fn is_secret_key(key: &str) -> bool {
    let k: String = key
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    SECRET_KEY_PARTS.iter().any(|p| k.contains(p))
}

/// Replaces every value under a secret-looking key, at any depth.
pub fn redact(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if is_secret_key(k) {
                        Value::String(REDACTED.into())
                    } else {
                        redact(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        other => other.clone(),
    }
}

/// Serializes `v`; when longer than `cap` bytes, returns the first `cap` bytes (cut on a
/// character boundary) as a JSON string and `true`.
pub fn cap(v: &Value, cap: usize) -> (Value, bool) {
    let text = v.to_string();
    if text.len() <= cap {
        return (v.clone(), false);
    }
    let mut end = cap;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (Value::String(text[..end].to_string()), true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_keys_are_redacted_at_any_depth() {
        let v = json!({
            "path": "/data",
            "password": "hunter2",
            "nested": {"api_key": "k", "API-Token": "t", "list": [{"Authorization": "Bearer x", "ok": 1}]},
            "client_secret": "s",
        });
        let r = redact(&v);
        assert_eq!(r["path"], "/data");
        assert_eq!(r["password"], REDACTED);
        assert_eq!(r["nested"]["api_key"], REDACTED);
        assert_eq!(r["nested"]["API-Token"], REDACTED);
        assert_eq!(r["nested"]["list"][0]["Authorization"], REDACTED);
        assert_eq!(r["nested"]["list"][0]["ok"], 1);
        assert_eq!(r["client_secret"], REDACTED);
        assert!(!r.to_string().contains("hunter2"));
    }

    #[test]
    fn capping_cuts_on_char_boundaries() {
        let v = json!({"text": "ééééééééé"});
        let (small, t) = cap(&v, 1000);
        assert_eq!((small, t), (v.clone(), false));
        let (cut, t) = cap(&v, 12);
        assert!(t);
        let s = cut.as_str().unwrap();
        assert!(s.len() <= 12 && v.to_string().starts_with(s));
    }
}
