//! GitHub Actions repository secrets: list them (names and dates; GitHub never returns values)
//! and create or update one, encrypted client-side as GitHub requires — a libsodium sealed box
//! (X25519 + XSalsa20-Poly1305) to the repository's secrets public key, sent base64-encoded
//! with that key's id.
//!
//! Writing a secret needs a token with the "Secrets: read and write" repository permission
//! (fine-grained PAT or GitHub App); the workflow's own `GITHUB_TOKEN` cannot have it, and
//! GitHub then answers 403 ([`Error::Authentication`]).

use base64::Engine as _;
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};

use crate::client::{PER_PAGE, Verb};
use crate::{Error, GitHub};

/// The repository's public key for encrypting secrets (`GET …/actions/secrets/public-key`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretsPublicKey {
    /// Sent back with the encrypted value, so GitHub knows which key it was sealed to.
    pub key_id: String,
    /// The X25519 public key, base64.
    pub key: String,
}

/// A repository secret as GitHub lists it: name and dates, never the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretInfo {
    pub name: String,
    pub created_at: String,
    pub updated_at: String,
}

/// What [`GitHub::put_secret`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretAction {
    /// The secret did not exist (HTTP 201).
    Created,
    /// An existing secret got the new value (HTTP 204).
    Updated,
}

#[derive(Deserialize)]
struct SecretsPage {
    secrets: Vec<SecretInfo>,
}

/// Seals `value` to `public_key_b64` (a base64 X25519 public key) as a libsodium
/// `crypto_box_seal` box and returns it base64-encoded — the `encrypted_value` GitHub expects.
///
/// # Errors
/// [`Error::InvalidInput`] when the key is not base64 of 32 bytes, [`Error::Decode`] if
/// sealing fails.
pub fn seal_secret(public_key_b64: &str, value: &SecretString) -> Result<String, Error> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(public_key_b64.trim())
        .map_err(|e| Error::InvalidInput(format!("secrets public key is not base64: {e}")))?;
    let bytes: [u8; 32] = raw.as_slice().try_into().map_err(|_| {
        Error::InvalidInput(format!(
            "secrets public key has {} bytes, expected 32",
            raw.len()
        ))
    })?;
    let key = crypto_box::PublicKey::from(bytes);
    let sealed = key
        .seal(
            &mut crypto_box::aead::OsRng,
            value.expose_secret().as_bytes(),
        )
        .map_err(|_| Error::Decode {
            operation: "seal a secret".into(),
            detail: "sealed box encryption failed".into(),
        })?;
    Ok(base64::engine::general_purpose::STANDARD.encode(sealed))
}

/// GitHub's rules for secret names: letters, digits and `_`, not starting with a digit or
/// `GITHUB_`.
///
/// # Errors
/// [`Error::InvalidInput`] naming the rule broken.
pub fn validate_secret_name(name: &str) -> Result<(), Error> {
    let bad = |why: &str| Err(Error::InvalidInput(format!("secret name {name:?} {why}")));
    if name.is_empty() {
        return bad("is empty");
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return bad("may only contain letters, digits and underscores");
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        return bad("must not start with a digit");
    }
    if name.to_ascii_uppercase().starts_with("GITHUB_") {
        return bad("must not start with GITHUB_ (reserved by GitHub)");
    }
    Ok(())
}

impl GitHub {
    /// `GET /repos/{o}/{r}/actions/secrets/public-key`.
    ///
    /// # Errors
    /// [`Error::Authentication`] when the token may not read secrets, and the usual HTTP errors.
    pub async fn secrets_public_key(&self) -> Result<SecretsPublicKey, Error> {
        self.get_json(
            "read the repository's Actions secrets public key",
            &self.repo_path("/actions/secrets/public-key"),
        )
        .await
    }

    /// Every repository Actions secret (names and dates only), all pages.
    ///
    /// # Errors
    /// [`Error::Authentication`] when the token may not read secrets, and the usual HTTP errors.
    pub async fn list_secrets(&self) -> Result<Vec<SecretInfo>, Error> {
        let operation = "list the repository's Actions secrets";
        self.get_all_with(
            operation,
            &self.repo_path(&format!("/actions/secrets?per_page={PER_PAGE}")),
            |body| crate::client::decode::<SecretsPage>(operation, body).map(|p| p.secrets),
        )
        .await
    }

    /// Creates or updates the repository Actions secret `name` with `value`: fetches the public
    /// key, seals the value to it locally (the plain value never leaves this process) and PUTs
    /// `{encrypted_value, key_id}`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a name GitHub would refuse; [`Error::Authentication`] (403)
    /// when the token lacks "Secrets: write"; the usual HTTP errors.
    pub async fn put_secret(
        &self,
        name: &str,
        value: &SecretString,
    ) -> Result<SecretAction, Error> {
        validate_secret_name(name)?;
        let key = self.secrets_public_key().await?;
        let encrypted_value = seal_secret(&key.key, value)?;
        let body = serde_json::json!({ "encrypted_value": encrypted_value, "key_id": key.key_id });
        let operation = format!("write the Actions secret {name}");
        let reply = self
            .call(
                &operation,
                Verb::Put,
                &self.repo_path(&format!("/actions/secrets/{name}")),
                Some(&body),
            )
            .await?;
        Ok(if reply.status == 201 {
            SecretAction::Created
        } else {
            SecretAction::Updated
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_box_opens_with_the_private_key() {
        let secret = crypto_box::SecretKey::generate(&mut crypto_box::aead::OsRng);
        let public =
            base64::engine::general_purpose::STANDARD.encode(secret.public_key().as_bytes());
        let sealed = seal_secret(&public, &SecretString::from("hunter2-token")).unwrap();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(sealed)
            .unwrap();
        // 32-byte ephemeral key + 16-byte tag + message.
        assert_eq!(raw.len(), 32 + 16 + "hunter2-token".len());
        assert_eq!(secret.unseal(&raw).unwrap(), b"hunter2-token");
    }

    #[test]
    fn bad_keys_are_input_errors() {
        let v = SecretString::from("x");
        assert!(matches!(
            seal_secret("%%%", &v),
            Err(Error::InvalidInput(m)) if m.contains("base64")
        ));
        assert!(matches!(
            seal_secret("AAAA", &v),
            Err(Error::InvalidInput(m)) if m.contains("3 bytes")
        ));
    }

    #[test]
    fn secret_names_follow_github_rules() {
        validate_secret_name("CLOUDFLARE_API_TOKEN").unwrap();
        validate_secret_name("_x1").unwrap();
        for bad in ["", "1ABC", "GITHUB_TOKEN", "github_x", "A-B", "A B"] {
            assert!(validate_secret_name(bad).is_err(), "{bad}");
        }
    }
}
