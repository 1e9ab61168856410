//! DNS records of a zone: list with filters, CRUD, BIND export/import (ENDPOINTS.md §6).

use std::collections::BTreeMap;

use bytes::Bytes;
use futures::Stream;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::client::{Client, Part, Request};
use crate::pagination::{Bare, page_stream};
use crate::retry::Idempotency;

/// A DNS record as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsRecord {
    /// Record id (the handle).
    pub id: String,
    /// `A`, `AAAA`, `CNAME`, `TXT`, `MX`, …
    #[serde(rename = "type")]
    pub record_type: String,
    /// Fully qualified name.
    pub name: String,
    /// Value (address, target, text). Absent for types that use `data` (SRV, CAA, …).
    #[serde(default)]
    pub content: String,
    /// TTL in seconds; 1 means automatic.
    #[serde(default = "auto_ttl")]
    pub ttl: u32,
    /// Whether traffic goes through Cloudflare's proxy.
    #[serde(default)]
    pub proxied: bool,
    /// Whether the record can be proxied.
    #[serde(default)]
    pub proxiable: bool,
    /// Free-text comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// `name:value` tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// MX/URI priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u16>,
    /// Structured data for SRV/CAA/… records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
    /// Creation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_on: Option<String>,
    /// Last change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_on: Option<String>,
}

fn auto_ttl() -> u32 {
    1
}

/// Body of create (POST) and overwrite (PUT).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsRecordInput {
    /// Record type.
    #[serde(rename = "type")]
    pub record_type: String,
    /// Name (FQDN or relative; `@` for the apex).
    pub name: String,
    /// Value.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub content: String,
    /// TTL (1 = automatic, else 60–86400).
    pub ttl: u32,
    /// Proxy through Cloudflare.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxied: Option<bool>,
    /// Comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// MX/URI priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u16>,
    /// Structured data (SRV, CAA, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

/// Body of PATCH: only the fields that are set change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DnsRecordPatch {
    /// New type (Cloudflare accepts it; the planner treats a type change as replace).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub record_type: Option<String>,
    /// New name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// New TTL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u32>,
    /// New proxy flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxied: Option<bool>,
    /// New comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// New tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// New priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u16>,
}

/// Filters for [`DnsApi::list`] (all optional, combined with AND).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsFilter {
    /// Exact FQDN.
    pub name: Option<String>,
    /// Record type.
    pub record_type: Option<String>,
    /// Exact content.
    pub content: Option<String>,
    /// Proxied or not.
    pub proxied: Option<bool>,
    /// Extra query parameters passed as they are (`comment.contains`, `tag.exact`, `search`, …).
    pub extra: BTreeMap<String, String>,
}

/// Result of a BIND import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportResult {
    /// Records created.
    #[serde(default)]
    pub recs_added: u64,
    /// Records found in the file.
    #[serde(default)]
    pub total_records_parsed: u64,
}

#[derive(Deserialize)]
struct IdOnly {
    #[allow(dead_code)] // shape check only
    #[serde(default)]
    id: Option<String>,
}

/// DNS endpoints; see [`Client::dns`].
#[derive(Debug, Clone, Copy)]
pub struct DnsApi<'a> {
    client: &'a Client,
}

impl Client {
    /// DNS records.
    pub fn dns(&self) -> DnsApi<'_> {
        DnsApi { client: self }
    }
}

/// The API's default and our page size.
const PER_PAGE: u64 = 100;

impl DnsApi<'_> {
    /// `GET /zones/{zone}/dns_records` with filters, all pages.
    pub fn list(
        &self,
        zone_id: &str,
        filter: &DnsFilter,
    ) -> impl Stream<Item = Result<DnsRecord, Error>> + Send + 'static {
        let filter = filter.clone();
        let base = self.client.url(&["zones", zone_id, "dns_records"]);
        page_stream::<DnsRecord, Bare<DnsRecord>, _>(
            self.client.clone(),
            PER_PAGE,
            base,
            move |url| {
                let mut req = Request::get(url)
                    .query_opt("name", filter.name.as_deref())
                    .query_opt("type", filter.record_type.as_deref())
                    .query_opt("content", filter.content.as_deref())
                    .query_opt("proxied", filter.proxied);
                for (k, v) in &filter.extra {
                    req = req.query(k, v);
                }
                Ok(req)
            },
        )
    }

    /// `GET /zones/{zone}/dns_records/{id}`.
    pub async fn get(&self, zone_id: &str, record_id: &str) -> Result<DnsRecord, Error> {
        let url = self
            .client
            .url(&["zones", zone_id, "dns_records", record_id])?;
        self.client.call(Request::get(url)).await
    }

    /// `POST /zones/{zone}/dns_records`. Identical record → 81057; CNAME clash → 81053.
    pub async fn create(&self, zone_id: &str, record: &DnsRecordInput) -> Result<DnsRecord, Error> {
        let url = self.client.url(&["zones", zone_id, "dns_records"])?;
        self.client.call(Request::post(url).json(record)?).await
    }

    /// `PUT /zones/{zone}/dns_records/{id}`: overwrite the whole record.
    pub async fn update(
        &self,
        zone_id: &str,
        record_id: &str,
        record: &DnsRecordInput,
    ) -> Result<DnsRecord, Error> {
        let url = self
            .client
            .url(&["zones", zone_id, "dns_records", record_id])?;
        self.client.call(Request::put(url).json(record)?).await
    }

    /// `PATCH /zones/{zone}/dns_records/{id}`: change only the given fields. Retried like an
    /// idempotent call (it sets values, it does not add).
    pub async fn patch(
        &self,
        zone_id: &str,
        record_id: &str,
        patch: &DnsRecordPatch,
    ) -> Result<DnsRecord, Error> {
        let url = self
            .client
            .url(&["zones", zone_id, "dns_records", record_id])?;
        self.client
            .call(
                Request::patch(url)
                    .json(patch)?
                    .idempotency(Idempotency::Safe),
            )
            .await
    }

    /// `DELETE /zones/{zone}/dns_records/{id}`.
    pub async fn delete(&self, zone_id: &str, record_id: &str) -> Result<(), Error> {
        let url = self
            .client
            .url(&["zones", zone_id, "dns_records", record_id])?;
        let _: Option<IdOnly> = self.client.call(Request::delete(url)).await?;
        Ok(())
    }

    /// `GET /zones/{zone}/dns_records/export`: the zone as a BIND file (not enveloped).
    pub async fn export_bind(&self, zone_id: &str) -> Result<String, Error> {
        let url = self
            .client
            .url(&["zones", zone_id, "dns_records", "export"])?;
        let resp = self.client.execute(Request::get(url)).await?;
        Ok(String::from_utf8_lossy(&resp.body).into_owned())
    }

    /// `POST /zones/{zone}/dns_records/import`: multipart `file` + `proxied`. Not retried on
    /// ambiguous failures (a repeat would add records twice).
    pub async fn import_bind(
        &self,
        zone_id: &str,
        zone_file: impl Into<String>,
        proxied: bool,
    ) -> Result<ImportResult, Error> {
        let url = self
            .client
            .url(&["zones", zone_id, "dns_records", "import"])?;
        let parts = vec![
            Part::file(
                "file",
                "zone.txt",
                "text/plain",
                Bytes::from(zone_file.into()),
            ),
            Part::text("proxied", if proxied { "true" } else { "false" }),
        ];
        self.client
            .call(
                Request::post(url)
                    .multipart(parts)
                    .idempotency(Idempotency::Unsafe),
            )
            .await
    }
}
