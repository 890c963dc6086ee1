//! A device's credentials: checked when sent, sealed in the vault as one JSON document
//! (`network_devices.credentials`), opened and their `${secret:…}` references resolved
//! only to log in.

use super::model::Credentials;
use crate::app::App;
use crate::configuration::refs;
use crate::error::{Error, Result};
use crate::vault::seal::RowRef;
use base64::Engine as _;
use zeroize::Zeroizing;

/// The vault row of device `id`'s credentials.
pub fn row(id: &str) -> RowRef<'_> {
    RowRef {
        table: "network_devices",
        column: "credentials",
        id,
    }
}

/// A private key as PEM text: as sent, or decoded when it was sent base64-encoded.
pub fn pem_text(key: &str) -> String {
    if key.contains("-----BEGIN") {
        return key.to_string();
    }
    let compact: String = key.split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|s| s.contains("-----BEGIN"))
        .unwrap_or_else(|| key.to_string())
}

/// Checks a set of credentials: exactly one of `password` and `private_key`, a
/// `passphrase` only with a key, a key that is PEM (or base64 of PEM) unless it is a
/// reference, references that name existing config entries. Errors: 400 naming the
/// field.
pub async fn check(app: &App, c: &Credentials) -> Result<()> {
    match (&c.password, &c.private_key) {
        (Some(_), Some(_)) => {
            return Err(Error::field(
                "private_key",
                "give either password or private_key, not both",
            ));
        }
        (None, None) => {
            return Err(Error::field("password", "required (or private_key)"));
        }
        _ => {}
    }
    if c.passphrase.is_some() && c.private_key.is_none() {
        return Err(Error::field("passphrase", "only with private_key"));
    }
    if let Some(k) = &c.private_key
        && refs::referenced_keys(k).is_empty()
        && !pem_text(k).contains("PRIVATE KEY-----")
    {
        return Err(Error::field(
            "private_key",
            "must be a PEM private key (-----BEGIN … PRIVATE KEY-----) or base64 of one",
        ));
    }
    for (field, v) in c.named() {
        if v.is_empty() && field != "enable_secret" {
            return Err(Error::field(field, "must not be empty"));
        }
        if v.len() > 16 * 1024 {
            return Err(Error::field(field, "at most 16 KiB"));
        }
    }
    let named = c.named();
    app.store
        .read(move |conn| refs::check(conn, "", &named))
        .await
}

/// Seals `c` for device `id`.
pub fn seal(app: &App, id: &str, c: &Credentials) -> Result<String> {
    let clear = Zeroizing::new(serde_json::to_vec(c)?);
    app.vault.seal(row(id), &clear)
}

/// Opens device `id`'s sealed credentials (references not resolved).
pub fn open(app: &App, id: &str, sealed: &str) -> Result<Credentials> {
    let clear = app.vault.open(row(id), sealed)?;
    Ok(serde_json::from_slice(&clear)?)
}

/// Opens and resolves device `id`'s credentials for a login. A reference to a config
/// entry deleted since is a `VALIDATION_ERROR` naming the field.
pub async fn resolved(app: &App, id: &str, sealed: &str) -> Result<Credentials> {
    let named = open(app, id, sealed)?.named();
    let vault = app.vault.clone();
    let values = app
        .store
        .read(move |conn| refs::resolve_in(conn, &vault, "", &named))
        .await?;
    Ok(Credentials::from_named(
        values
            .into_iter()
            .map(|(k, v)| (k, v.to_string()))
            .collect(),
    ))
}
