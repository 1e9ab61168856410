//! Zones: list by name, get, and wrangler's "which zone serves this hostname" walk
//! (ENDPOINTS.md §2). DNS records and Worker routes hang off a zone id.

use futures::{Stream, TryStreamExt};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::client::{Client, Request};
use crate::pagination::{Bare, page_stream};
use crate::user::AccountRef;

/// A zone; only the fields the toolkit reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Zone {
    /// Zone id (32 hex characters).
    pub id: String,
    /// Apex domain name.
    pub name: String,
    /// `active`, `pending`, …
    #[serde(default)]
    pub status: String,
    /// Owning account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<AccountRef>,
}

/// Filters for [`ZonesApi::list`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ZoneFilter {
    /// Exact zone name (`name=`).
    pub name: Option<String>,
    /// Restrict to this account (`account.id=`).
    pub account_id: Option<String>,
}

/// Zone endpoints; see [`Client::zones`].
#[derive(Debug, Clone, Copy)]
pub struct ZonesApi<'a> {
    client: &'a Client,
}

impl Client {
    /// Zone lookups.
    pub fn zones(&self) -> ZonesApi<'_> {
        ZonesApi { client: self }
    }
}

/// The API allows at most 50 zones per page.
const PER_PAGE: u64 = 50;

impl ZonesApi<'_> {
    /// `GET /zones` with filters, all pages.
    pub fn list(
        &self,
        filter: &ZoneFilter,
    ) -> impl Stream<Item = Result<Zone, Error>> + Send + 'static {
        let client = self.client.clone();
        let filter = filter.clone();
        let base = self.client.url(&["zones"]);
        page_stream::<Zone, Bare<Zone>, _>(client, PER_PAGE, base, move |url| {
            Ok(Request::get(url)
                .query_opt("name", filter.name.as_deref())
                .query_opt("account.id", filter.account_id.as_deref()))
        })
    }

    /// `GET /zones/{zone_id}`.
    pub async fn get(&self, zone_id: &str) -> Result<Zone, Error> {
        let url = self.client.url(&["zones", zone_id])?;
        self.client.call(Request::get(url)).await
    }

    /// Finds the zone serving `hostname` the way wrangler does: ask for `a.b.example.com`, then
    /// `b.example.com`, then `example.com`, … (restricted to the client's account when one is
    /// configured). `Ok(None)` when no suffix is a zone.
    pub async fn find_for_hostname(&self, hostname: &str) -> Result<Option<Zone>, Error> {
        let host = hostname.trim().trim_end_matches('.').to_ascii_lowercase();
        let labels: Vec<&str> = host.split('.').filter(|l| !l.is_empty()).collect();
        for start in 0..labels.len().saturating_sub(1) {
            let candidate = labels[start..].join(".");
            let filter = ZoneFilter {
                name: Some(candidate.clone()),
                account_id: self.client.account_id().map(str::to_owned),
            };
            let zones: Vec<Zone> = self.list(&filter).try_collect().await?;
            if let Some(zone) = zones
                .into_iter()
                .find(|z| z.name.eq_ignore_ascii_case(&candidate))
            {
                return Ok(Some(zone));
            }
        }
        Ok(None)
    }
}
