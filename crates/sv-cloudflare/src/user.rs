//! Identity calls: token verification, the current user, accounts and memberships
//! (ENDPOINTS.md §2). Used by onboarding (`doctor`, `token check`) to tell user-owned from
//! account-owned tokens and to find the account.

use futures::Stream;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::client::{Client, Request};
use crate::pagination::{Bare, page_stream};

/// `/user/tokens/verify` result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenStatus {
    /// Token id (not the secret).
    pub id: String,
    /// `active`, `disabled` or `expired`.
    pub status: String,
    /// Start of validity, if limited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    /// End of validity, if limited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_on: Option<String>,
}

impl TokenStatus {
    /// Whether the token can be used now.
    pub fn is_active(&self) -> bool {
        self.status == "active"
    }
}

/// Who owns a verified token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenOwner {
    /// A user API token (`/user/tokens/verify` accepted it).
    User,
    /// An account-owned token (`/accounts/{id}/tokens/verify` accepted it).
    Account,
}

/// The current user (`GET /user`); only the fields the toolkit reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// User id.
    pub id: String,
    /// E-mail address.
    #[serde(default)]
    pub email: Option<String>,
}

/// An account (`GET /accounts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Account id (32 hex characters at Cloudflare).
    pub id: String,
    /// Display name.
    pub name: String,
    /// `standard` / `enterprise`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub account_type: Option<String>,
    /// Creation time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_on: Option<String>,
}

/// `{id, name}` reference to an account inside other objects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRef {
    /// Account id.
    pub id: String,
    /// Account name.
    #[serde(default)]
    pub name: String,
}

/// A membership of the current user in an account (`GET /memberships`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// Membership id.
    pub id: String,
    /// The account.
    pub account: AccountRef,
    /// `accepted`, `pending`, `rejected`.
    #[serde(default)]
    pub status: String,
    /// Role names.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// Identity endpoints; see [`Client::user`].
#[derive(Debug, Clone, Copy)]
pub struct UserApi<'a> {
    client: &'a Client,
}

impl Client {
    /// Token verification, user, accounts, memberships.
    pub fn user(&self) -> UserApi<'_> {
        UserApi { client: self }
    }
}

/// Page size for accounts and memberships (the API allows 5–50).
const PER_PAGE: u64 = 50;

impl UserApi<'_> {
    /// `GET /user/tokens/verify`. An account-owned token fails here with code 1000.
    pub async fn verify_token(&self) -> Result<TokenStatus, Error> {
        let url = self.client.url(&["user", "tokens", "verify"])?;
        self.client.call(Request::get(url)).await
    }

    /// `GET /accounts/{account}/tokens/verify`, for account-owned tokens.
    pub async fn verify_account_token(&self) -> Result<TokenStatus, Error> {
        let url = self.client.account_url(&["tokens", "verify"])?;
        self.client.call(Request::get(url)).await
    }

    /// Verifies the token whoever owns it: the user endpoint first, then — on code 1000 or an
    /// authentication failure, when an account id is configured — the account endpoint (how
    /// wrangler's `whoami` tells the two apart).
    pub async fn verify_any(&self) -> Result<(TokenOwner, TokenStatus), Error> {
        match self.verify_token().await {
            Ok(status) => Ok((TokenOwner::User, status)),
            Err(e)
                if self.client.account_id().is_some()
                    && (e.has_code(1000)
                        || e.category() == crate::ErrorCategory::Authentication) =>
            {
                let status = self.verify_account_token().await?;
                Ok((TokenOwner::Account, status))
            }
            Err(e) => Err(e),
        }
    }

    /// `GET /user`. Account-owned tokens get code 9109.
    pub async fn get_user(&self) -> Result<User, Error> {
        let url = self.client.url(&["user"])?;
        self.client.call(Request::get(url)).await
    }

    /// `GET /accounts`, all pages; `name` filters by account name.
    pub fn accounts(
        &self,
        name: Option<&str>,
    ) -> impl Stream<Item = Result<Account, Error>> + Send + 'static {
        let client = self.client.clone();
        let name = name.map(str::to_owned);
        let base = self.client.url(&["accounts"]);
        page_stream::<Account, Bare<Account>, _>(client, PER_PAGE, base, move |url| {
            Ok(Request::get(url).query_opt("name", name.as_deref()))
        })
    }

    /// `GET /accounts/{id}`.
    pub async fn get_account(&self, account_id: &str) -> Result<Account, Error> {
        let url = self.client.url(&["accounts", account_id])?;
        self.client.call(Request::get(url)).await
    }

    /// `GET /memberships`, all pages. Account-owned tokens get 9106 or 10000.
    pub fn memberships(&self) -> impl Stream<Item = Result<Membership, Error>> + Send + 'static {
        let client = self.client.clone();
        let base = self.client.url(&["memberships"]);
        page_stream::<Membership, Bare<Membership>, _>(client, PER_PAGE, base, move |url| {
            Ok(Request::get(url))
        })
    }
}
