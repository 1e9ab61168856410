//! Workers KV: namespaces, keys (cursor stream), values, metadata and the bulk calls
//! (ENDPOINTS.md §3). Bulk calls are chunked to the API's limits automatically.

use std::collections::BTreeMap;

use bytes::Bytes;
use futures::Stream;
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::client::{Client, Part, Request};
use crate::pagination::{Bare, cursor_stream, page_stream};
use crate::retry::Idempotency;

/// Pairs per bulk write / keys per bulk delete the API accepts.
pub const BULK_WRITE_MAX_PAIRS: usize = 10_000;
/// Bytes per bulk write request the API accepts (100 MB); we stay a little below.
pub const BULK_WRITE_MAX_BYTES: usize = 95_000_000;
/// Keys per bulk get.
pub const BULK_GET_MAX_KEYS: usize = 100;
/// Longest key (bytes).
pub const MAX_KEY_BYTES: usize = 512;

/// A namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvNamespace {
    /// Namespace id (the handle).
    pub id: String,
    /// Title (the natural key, unique per account).
    pub title: String,
    /// Whether keys are URL-decoded by the API.
    #[serde(default)]
    pub supports_url_encoding: Option<bool>,
}

/// A key from the key listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KvKey {
    /// Key name.
    pub name: String,
    /// Expiry (seconds since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<i64>,
    /// Metadata attached at write time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
}

/// A value read with [`KvApi::get_value`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvValue {
    /// The raw bytes.
    pub bytes: Bytes,
    /// Expiry from the `expiration` response header, when set.
    pub expiration: Option<i64>,
}

/// Options of [`KvApi::put_value`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KvPutOptions {
    /// Absolute expiry (seconds since the epoch).
    pub expiration: Option<i64>,
    /// Relative expiry in seconds (≥ 60); wins over `expiration` at the API.
    pub expiration_ttl: Option<u64>,
    /// Metadata (≤ 1024 bytes serialised). When present the value goes as multipart.
    pub metadata: Option<serde_json::Value>,
}

/// One pair of a bulk write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KvBulkPair {
    /// Key.
    pub key: String,
    /// Value: text, or base64 when `base64` is true.
    pub value: String,
    /// Absolute expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<i64>,
    /// Relative expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_ttl: Option<u64>,
    /// Metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
    /// The server base64-decodes `value` before storing (binary values).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub base64: bool,
}

/// Outcome of a (chunked) bulk write or delete, summed over chunks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkOutcome {
    /// Keys written/deleted (as reported; counted from the input when the API returns null).
    pub successful_key_count: u64,
    /// Keys the API could not process.
    pub unsuccessful_keys: Vec<String>,
    /// Requests made.
    pub requests: u64,
}

#[derive(Debug, Deserialize)]
struct BulkResult {
    #[serde(default)]
    successful_key_count: Option<u64>,
    #[serde(default)]
    unsuccessful_keys: Vec<String>,
}

/// One value from [`KvApi::bulk_get`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KvBulkItem {
    /// The value as text (bulk get only returns text values).
    pub value: String,
    /// Metadata, when asked for and present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
    /// Expiry, when asked for metadata and set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<i64>,
}

#[derive(Deserialize)]
struct BulkGetResult {
    #[serde(default)]
    values: BTreeMap<String, Option<BulkGetEntry>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum BulkGetEntry {
    WithMeta(KvBulkItem),
    Text(String),
    Json(serde_json::Value),
}

/// KV endpoints; see [`Client::kv`].
#[derive(Debug, Clone, Copy)]
pub struct KvApi<'a> {
    client: &'a Client,
}

impl Client {
    /// Workers KV.
    pub fn kv(&self) -> KvApi<'_> {
        KvApi { client: self }
    }
}

fn check_key(key: &str) -> Result<(), Error> {
    if key.is_empty() || key == "." || key == ".." {
        return Err(Error::invalid(format!("invalid KV key {key:?}")));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(Error::invalid(format!(
            "KV key is {} bytes; the limit is {MAX_KEY_BYTES}",
            key.len()
        )));
    }
    Ok(())
}

impl KvApi<'_> {
    fn ns_url(&self, rest: &[&str]) -> Result<url::Url, Error> {
        let mut segs = vec!["storage", "kv", "namespaces"];
        segs.extend_from_slice(rest);
        self.client.account_url(&segs)
    }

    /// `GET …/storage/kv/namespaces`, all pages (100 per page, ordered by title).
    pub fn list_namespaces(
        &self,
    ) -> impl Stream<Item = Result<KvNamespace, Error>> + Send + 'static {
        let base = self.ns_url(&[]);
        page_stream::<KvNamespace, Bare<KvNamespace>, _>(self.client.clone(), 100, base, |url| {
            Ok(Request::get(url)
                .query("order", "title")
                .query("direction", "asc"))
        })
    }

    /// `POST …/storage/kv/namespaces`. A taken title fails with 10014 ([`Error::is_conflict`]).
    pub async fn create_namespace(&self, title: &str) -> Result<KvNamespace, Error> {
        let url = self.ns_url(&[])?;
        let body = serde_json::json!({ "title": title });
        self.client.call(Request::post(url).json(&body)?).await
    }

    /// `GET …/namespaces/{id}`.
    pub async fn get_namespace(&self, namespace_id: &str) -> Result<KvNamespace, Error> {
        let url = self.ns_url(&[namespace_id])?;
        self.client.call(Request::get(url)).await
    }

    /// `PUT …/namespaces/{id}` with a new title.
    pub async fn rename_namespace(&self, namespace_id: &str, title: &str) -> Result<(), Error> {
        let url = self.ns_url(&[namespace_id])?;
        let body = serde_json::json!({ "title": title });
        self.client.call_unit(Request::put(url).json(&body)?).await
    }

    /// `DELETE …/namespaces/{id}`.
    pub async fn delete_namespace(&self, namespace_id: &str) -> Result<(), Error> {
        let url = self.ns_url(&[namespace_id])?;
        self.client.call_unit(Request::delete(url)).await
    }

    /// `GET …/namespaces/{id}/keys`, following the cursor; `prefix` filters.
    /// Each item carries name, expiration and metadata.
    pub fn list_keys(
        &self,
        namespace_id: &str,
        prefix: Option<&str>,
    ) -> impl Stream<Item = Result<KvKey, Error>> + Send + 'static {
        let base = self.ns_url(&[namespace_id, "keys"]);
        let prefix = prefix.map(str::to_owned);
        cursor_stream::<KvKey, Bare<KvKey>, _>(self.client.clone(), base, move |url| {
            Ok(Request::get(url)
                .query("limit", 1000)
                .query_opt("prefix", prefix.as_deref()))
        })
    }

    /// `GET …/namespaces/{id}/values/{key}`: the raw value. A missing key is an error with
    /// [`Error::is_not_found`].
    pub async fn get_value(&self, namespace_id: &str, key: &str) -> Result<KvValue, Error> {
        check_key(key)?;
        let url = self.ns_url(&[namespace_id, "values", key])?;
        let resp = self.client.execute(Request::get(url)).await?;
        Ok(KvValue {
            expiration: expiration_header(&resp.headers),
            bytes: resp.body,
        })
    }

    /// `PUT …/namespaces/{id}/values/{key}`: raw bytes, or multipart `value` + `metadata` when
    /// metadata is given; expiry as query parameters. Retried as an idempotent PUT.
    pub async fn put_value(
        &self,
        namespace_id: &str,
        key: &str,
        value: impl Into<Bytes>,
        options: &KvPutOptions,
    ) -> Result<(), Error> {
        check_key(key)?;
        if let Some(ttl) = options.expiration_ttl
            && ttl < 60
        {
            return Err(Error::invalid(format!(
                "KV expiration_ttl must be at least 60 seconds (got {ttl})"
            )));
        }
        let url = self.ns_url(&[namespace_id, "values", key])?;
        let req = Request::put(url)
            .query_opt("expiration", options.expiration)
            .query_opt("expiration_ttl", options.expiration_ttl);
        let value = value.into();
        let req = match &options.metadata {
            None => req.bytes(value, Some("application/octet-stream")),
            Some(meta) => req.multipart(vec![
                Part::file("value", "value", "application/octet-stream", value),
                Part::text(
                    "metadata",
                    serde_json::to_string(meta)
                        .map_err(|e| Error::invalid(format!("KV metadata: {e}")))?,
                ),
            ]),
        };
        self.client.call_unit(req).await
    }

    /// `DELETE …/namespaces/{id}/values/{key}`.
    pub async fn delete_value(&self, namespace_id: &str, key: &str) -> Result<(), Error> {
        check_key(key)?;
        let url = self.ns_url(&[namespace_id, "values", key])?;
        self.client.call_unit(Request::delete(url)).await
    }

    /// `GET …/namespaces/{id}/metadata/{key}`: the key's metadata (`None` when it has none).
    pub async fn get_metadata(
        &self,
        namespace_id: &str,
        key: &str,
    ) -> Result<Option<serde_json::Value>, Error> {
        check_key(key)?;
        let url = self.ns_url(&[namespace_id, "metadata", key])?;
        self.client.call(Request::get(url)).await
    }

    /// `PUT …/namespaces/{id}/bulk`, split into requests of at most 10,000 pairs and ~95 MB.
    pub async fn bulk_write(
        &self,
        namespace_id: &str,
        pairs: &[KvBulkPair],
    ) -> Result<BulkOutcome, Error> {
        self.bulk_write_chunked(namespace_id, pairs, BULK_WRITE_MAX_PAIRS)
            .await
    }

    /// [`Self::bulk_write`] with a smaller pair limit per request (wrangler uses 1,000).
    pub async fn bulk_write_chunked(
        &self,
        namespace_id: &str,
        pairs: &[KvBulkPair],
        max_pairs: usize,
    ) -> Result<BulkOutcome, Error> {
        for p in pairs {
            check_key(&p.key)?;
        }
        let url = self.ns_url(&[namespace_id, "bulk"])?;
        let mut outcome = BulkOutcome::default();
        for chunk in chunk_by_size(
            pairs,
            max_pairs.clamp(1, BULK_WRITE_MAX_PAIRS),
            BULK_WRITE_MAX_BYTES,
        )? {
            let req = Request::put(url.clone()).json(&chunk)?;
            let result: Option<BulkResult> = self.client.call(req).await?;
            outcome.add(result, chunk.len());
        }
        Ok(outcome)
    }

    /// `POST …/namespaces/{id}/bulk/delete`, in chunks of 10,000 keys. Deleting is idempotent, so
    /// this POST is retried like a DELETE.
    pub async fn bulk_delete(
        &self,
        namespace_id: &str,
        keys: &[String],
    ) -> Result<BulkOutcome, Error> {
        let url = self.ns_url(&[namespace_id, "bulk", "delete"])?;
        let mut outcome = BulkOutcome::default();
        for chunk in keys.chunks(BULK_WRITE_MAX_PAIRS) {
            let req = Request::post(url.clone())
                .json(&chunk)?
                .idempotency(Idempotency::Safe);
            let result: Option<BulkResult> = self.client.call(req).await?;
            outcome.add(result, chunk.len());
        }
        Ok(outcome)
    }

    /// `POST …/namespaces/{id}/bulk/get` (text values), in chunks of 100 keys. Missing keys map to
    /// `None`. With `with_metadata`, items carry metadata and expiration.
    pub async fn bulk_get(
        &self,
        namespace_id: &str,
        keys: &[String],
        with_metadata: bool,
    ) -> Result<BTreeMap<String, Option<KvBulkItem>>, Error> {
        let url = self.ns_url(&[namespace_id, "bulk", "get"])?;
        let mut out = BTreeMap::new();
        for chunk in keys.chunks(BULK_GET_MAX_KEYS) {
            let body = serde_json::json!({
                "keys": chunk,
                "type": "text",
                "withMetadata": with_metadata,
            });
            let req = Request::post(url.clone())
                .json(&body)?
                .idempotency(Idempotency::Safe);
            let result: BulkGetResult = self.client.call(req).await?;
            for (k, v) in result.values {
                let item = v.map(|entry| match entry {
                    BulkGetEntry::WithMeta(item) => item,
                    BulkGetEntry::Text(value) => KvBulkItem {
                        value,
                        metadata: None,
                        expiration: None,
                    },
                    BulkGetEntry::Json(other) => KvBulkItem {
                        value: other.to_string(),
                        metadata: None,
                        expiration: None,
                    },
                });
                out.insert(k, item);
            }
        }
        Ok(out)
    }
}

impl BulkOutcome {
    fn add(&mut self, result: Option<BulkResult>, sent: usize) {
        self.requests += 1;
        let sent = u64::try_from(sent).unwrap_or(u64::MAX);
        match result {
            Some(r) => {
                let failed = u64::try_from(r.unsuccessful_keys.len()).unwrap_or(u64::MAX);
                self.successful_key_count += r
                    .successful_key_count
                    .unwrap_or_else(|| sent.saturating_sub(failed));
                self.unsuccessful_keys.extend(r.unsuccessful_keys);
            }
            None => self.successful_key_count += sent,
        }
    }
}

/// Splits pairs into chunks of at most `max_pairs` pairs and `max_bytes` of JSON.
fn chunk_by_size(
    pairs: &[KvBulkPair],
    max_pairs: usize,
    max_bytes: usize,
) -> Result<Vec<&[KvBulkPair]>, Error> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut bytes = 2; // "[]"
    for (i, p) in pairs.iter().enumerate() {
        let size = serde_json::to_vec(p)
            .map_err(|e| Error::invalid(format!("KV pair {:?}: {e}", p.key)))?
            .len()
            + 1;
        if size + 2 > max_bytes {
            return Err(Error::invalid(format!(
                "KV pair {:?} is larger than one bulk request may be",
                p.key
            )));
        }
        if i > start && (i - start >= max_pairs || bytes + size > max_bytes) {
            chunks.push(&pairs[start..i]);
            start = i;
            bytes = 2;
        }
        bytes += size;
    }
    if start < pairs.len() {
        chunks.push(&pairs[start..]);
    }
    Ok(chunks)
}

fn expiration_header(headers: &HeaderMap) -> Option<i64> {
    headers
        .get("expiration")
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(key: &str, len: usize) -> KvBulkPair {
        KvBulkPair {
            key: key.into(),
            value: "x".repeat(len),
            expiration: None,
            expiration_ttl: None,
            metadata: None,
            base64: false,
        }
    }

    #[test]
    fn chunks_by_count() {
        let pairs: Vec<_> = (0..25).map(|i| pair(&format!("k{i}"), 1)).collect();
        let chunks = chunk_by_size(&pairs, 10, BULK_WRITE_MAX_BYTES).unwrap();
        let sizes: Vec<usize> = chunks.iter().map(|c| c.len()).collect();
        assert_eq!(sizes, vec![10, 10, 5]);
    }

    #[test]
    fn chunks_by_bytes() {
        let pairs: Vec<_> = (0..4).map(|i| pair(&format!("k{i}"), 400)).collect();
        let chunks = chunk_by_size(&pairs, 10_000, 1000).unwrap();
        let sizes: Vec<usize> = chunks.iter().map(|c| c.len()).collect();
        assert_eq!(sizes, vec![2, 2]);
    }

    #[test]
    fn oversized_pair_is_refused() {
        let pairs = vec![pair("k", 2000)];
        assert!(chunk_by_size(&pairs, 10, 1000).is_err());
    }

    #[test]
    fn empty_input_makes_no_chunks() {
        assert!(chunk_by_size(&[], 10, 100).unwrap().is_empty());
    }

    #[test]
    fn bulk_outcome_counts_null_results() {
        let mut o = BulkOutcome::default();
        o.add(None, 5);
        o.add(
            Some(BulkResult {
                successful_key_count: None,
                unsuccessful_keys: vec!["a".into()],
            }),
            3,
        );
        assert_eq!(o.successful_key_count, 7);
        assert_eq!(o.unsuccessful_keys, vec!["a".to_owned()]);
        assert_eq!(o.requests, 2);
    }
}
