//! Where the key to read an archive comes from: `--identity FILE`, the identity text in
//! `SV_BACKUP_IDENTITY`, or a passphrase in the environment variable `--passphrase-env`
//! names. Secrets are masked in Actions logs before anything else happens and never echoed.

use std::path::Path;

use secrecy::SecretString;
use sv_archive::{Decryption, Encryption};
use sv_cli::InputError;

use crate::args::KeyArgs;

/// The variable that may hold the identity (key-file text) instead of `--identity`.
pub const IDENTITY_VAR: &str = "SV_BACKUP_IDENTITY";

/// The passphrase held in the variable `var` (never a flag value: flags show in `ps`).
pub fn passphrase(var: &str) -> anyhow::Result<SecretString> {
    match std::env::var(var) {
        Ok(text) if !text.is_empty() => {
            sv_cli::context::runner().mask(&text)?;
            Ok(SecretString::from(text))
        }
        _ => Err(InputError::new(anyhow::anyhow!(
            "--passphrase-env {var}: the variable {var} is unset or empty"
        ))
        .into()),
    }
}

/// Encryption with the passphrase in `var` (age scrypt).
pub fn passphrase_encryption(var: &str) -> anyhow::Result<Encryption> {
    Ok(Encryption::passphrase(passphrase(var)?))
}

/// The decryption key from the flags or `SV_BACKUP_IDENTITY`; `None` when none is given.
pub fn decryption(key: &KeyArgs) -> anyhow::Result<Option<Decryption>> {
    if let Some(var) = &key.passphrase_env {
        return Ok(Some(Decryption::passphrase(passphrase(var)?)));
    }
    identity(key.identity.as_deref())
}

fn identity(path: Option<&Path>) -> anyhow::Result<Option<Decryption>> {
    if let Some(path) = path {
        return Ok(Some(
            Decryption::identity_file(path).map_err(InputError::new)?,
        ));
    }
    match std::env::var(IDENTITY_VAR) {
        Ok(text) if !text.trim().is_empty() => {
            let runner = sv_cli::context::runner();
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                runner.mask(line.trim())?;
            }
            let secret = SecretString::from(text);
            Ok(Some(
                Decryption::identities_text(&secret, IDENTITY_VAR).map_err(InputError::new)?,
            ))
        }
        _ => Ok(None),
    }
}

/// Like [`decryption`], but a key is required.
pub fn required(key: &KeyArgs) -> anyhow::Result<Decryption> {
    decryption(key)?.ok_or_else(|| {
        InputError::new(anyhow::anyhow!(
            "no key: pass --identity KEYFILE, set {IDENTITY_VAR} to the key text, or --passphrase-env VAR"
        ))
        .into()
    })
}
