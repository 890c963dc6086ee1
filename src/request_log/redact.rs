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

/// Whether `v` holds a value under a secret-looking key, at any depth.
fn has_secret(v: &Value) -> bool {
    match v {
        Value::Object(map) => map.iter().any(|(k, v)| is_secret_key(k) || has_secret(v)),
        Value::Array(items) => items.iter().any(has_secret),
        _ => false,
    }
}

/// A payload as the request log keeps it (see [`stored`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// JSON text: the payload with secrets redacted or, when that is longer than the
    /// cap, a JSON string holding its first `cap` bytes (cut on a character boundary).
    pub text: String,
    /// Size of the payload as given (before redaction), in bytes of compact JSON.
    pub bytes: usize,
    /// Whether `text` was cut.
    pub truncated: bool,
}

/// The stored form of payload `v`, capped at `cap` bytes. Serialises once when there
/// is nothing to redact (the usual case: it runs for every logged call).
pub fn stored(v: &Value, cap: usize) -> Stored {
    let (text, bytes) = if has_secret(v) {
        (redact(v).to_string(), v.to_string().len())
    } else {
        let text = v.to_string();
        let bytes = text.len();
        (text, bytes)
    };
    if text.len() <= cap {
        return Stored {
            text,
            bytes,
            truncated: false,
        };
    }
    let mut end = cap;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Stored {
        text: Value::String(text[..end].to_string()).to_string(),
        bytes,
        truncated: true,
    }
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
    fn stored_payloads_are_redacted_capped_on_char_boundaries_and_sized_as_given() {
        let v = json!({"text": "ééééééééé"});
        let whole = stored(&v, 1000);
        assert_eq!(whole.text, v.to_string());
        assert_eq!((whole.bytes, whole.truncated), (v.to_string().len(), false));
        let cut = stored(&v, 12);
        assert!(cut.truncated);
        assert_eq!(cut.bytes, v.to_string().len());
        let s: String = serde_json::from_str(&cut.text).unwrap();
        assert!(s.len() <= 12 && v.to_string().starts_with(&s));

        let secret = json!({"user": "ann", "nested": [{"Api-Key": "k123"}]});
        let kept = stored(&secret, 1000);
        assert!(!kept.text.contains("k123"), "{}", kept.text);
        assert_eq!(kept.text, redact(&secret).to_string());
        assert_eq!(kept.bytes, secret.to_string().len());
        assert!(!stored(&secret, 10).text.contains("k123"));
    }
}
