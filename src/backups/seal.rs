//! Which encryption a new archive gets ([`choose_seal`]) and what opens an encrypted
//! one ([`unseal_for`]): the request's secrets first, else the configured
//! `backups.recipient`, `backups.passphrase_file` and `backups.identity_file`.

use super::archive::{Seal, Unseal};
use crate::app::AppState;
use crate::error::{Error, Internal, Result};
use std::path::Path;

/// A secret file's contents without the trailing newline.
fn read_secret_file(path: &Path) -> Result<age::secrecy::SecretString> {
    let s = std::fs::read_to_string(path)
        .internal(format!("reading backups secret file {}", path.display()))?;
    Ok(age::secrecy::SecretString::from(
        s.trim_end_matches(['\r', '\n']).to_string(),
    ))
}

/// The encryption of a new archive: the request's passphrase or recipient, else the
/// configured recipient, else the configured passphrase file; 400 when `encrypt` is
/// asked and none exists, or a secret is given without `encrypt`.
pub fn choose_seal(
    app: &AppState,
    encrypt: bool,
    passphrase: Option<String>,
    recipient: Option<String>,
) -> Result<Seal> {
    if !encrypt {
        if passphrase.is_some() || recipient.is_some() {
            return Err(Error::field(
                "encrypt",
                "passphrase/recipient given but encrypt is false",
            ));
        }
        return Ok(Seal::None);
    }
    if passphrase.is_some() && recipient.is_some() {
        return Err(Error::field(
            "passphrase",
            "give passphrase or recipient, not both",
        ));
    }
    if let Some(p) = passphrase {
        if p.chars().count() < 12 {
            return Err(Error::field("passphrase", "at least 12 characters"));
        }
        return Ok(Seal::Passphrase(age::secrecy::SecretString::from(p)));
    }
    if let Some(r) = recipient {
        return Seal::recipient("recipient", &r);
    }
    let cfg = &app.settings.backups;
    if let Some(r) = &cfg.recipient {
        return Seal::recipient("backups.recipient", r);
    }
    if let Some(f) = &cfg.passphrase_file {
        return Ok(Seal::Passphrase(read_secret_file(f)?));
    }
    Err(Error::field(
        "passphrase",
        "encrypt needs a passphrase or recipient (none given and none configured)",
    ))
}

/// What opens encrypted archives: the given secrets, else the configured ones.
pub fn unseal_for(
    app: &AppState,
    passphrase: Option<String>,
    identity: Option<String>,
) -> Result<Unseal> {
    let cfg = &app.settings.backups;
    let passphrase = match passphrase {
        Some(p) => Some(age::secrecy::SecretString::from(p)),
        None => cfg
            .passphrase_file
            .as_deref()
            .map(read_secret_file)
            .transpose()?,
    };
    let identity = match identity {
        Some(i) => Some(age::secrecy::SecretString::from(i)),
        None => cfg
            .identity_file
            .as_deref()
            .map(read_secret_file)
            .transpose()?,
    };
    Ok(Unseal {
        passphrase,
        identity,
    })
}
