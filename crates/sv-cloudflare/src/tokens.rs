//! User API token details (ENDPOINTS.md §2, "user tokens CRUD"): what onboarding
//! needs to judge a token's scope (`sv-onboard doctor`, `token check`) — its policies, expiry,
//! status and last use — and rolling a token's value (`sv-onboard token rotate`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::client::{Client, Request};

/// A permission group inside a policy (`{id, name}`; the name may be absent when the token
/// was created with ids only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionGroup {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// One policy of a token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenPolicy {
    #[serde(default)]
    pub id: String,
    /// `allow` or `deny`.
    pub effect: String,
    /// Resource keys (`com.cloudflare.api.account.<id>`, `com.cloudflare.api.account.*`,
    /// `com.cloudflare.api.account.zone.<id>`, …) → `"*"` or nested maps.
    #[serde(default)]
    pub resources: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub permission_groups: Vec<PermissionGroup>,
}

/// `GET /user/tokens/{id}` result (the secret value is never part of it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenDetails {
    pub id: String,
    #[serde(default)]
    pub name: String,
    /// `active`, `disabled` or `expired`.
    pub status: String,
    #[serde(default)]
    pub policies: Vec<TokenPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_on: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_on: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_on: Option<String>,
    /// When the token was last used, where the API reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_on: Option<String>,
}

/// User token endpoints; see [`Client::tokens`].
#[derive(Debug, Clone, Copy)]
pub struct TokensApi<'a> {
    client: &'a Client,
}

impl Client {
    /// User API token details.
    pub fn tokens(&self) -> TokensApi<'_> {
        TokensApi { client: self }
    }
}

impl TokensApi<'_> {
    /// `GET /user/tokens/{id}`. Needs the "API Tokens Read" permission; a token without it
    /// gets an authorization error.
    pub async fn get(&self, token_id: &str) -> Result<TokenDetails, Error> {
        let url = self.client.url(&["user", "tokens", token_id])?;
        self.client.call(Request::get(url)).await
    }

    /// `PUT /user/tokens/{id}/value`: rolls the token — a new secret value, the old one stops
    /// working at once. The value is returned once, wrapped so it cannot be printed by
    /// accident; store it before doing anything else. Needs "API Tokens Write".
    pub async fn roll(&self, token_id: &str) -> Result<secrecy::SecretString, Error> {
        let url = self.client.url(&["user", "tokens", token_id, "value"])?;
        let value: String = self
            .client
            .call(Request::put(url).json(&serde_json::json!({}))?)
            .await?;
        Ok(secrecy::SecretString::from(value))
    }
}
