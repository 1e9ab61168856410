//! Live-log tails: create and delete the tail session (ENDPOINTS.md §9, step 1 and 5). The
//! WebSocket itself (subprotocol `trace-v1`) belongs to the caller; this crate has no WebSocket
//! client.

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::client::{Client, Request};
use crate::retry::Idempotency;

/// One tail filter; serialised as wrangler sends them (`{"sampling_rate": 0.5}`, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TailFilter {
    /// Keep this share of events (0–1).
    SamplingRate(f64),
    /// `ok`, `exception`, `exceededCpu`, `exceededMemory`, `canceled`, `unknown`.
    Outcome(Vec<String>),
    /// HTTP methods.
    Method(Vec<String>),
    /// A request header, optionally with a value to match.
    Header {
        /// Header name.
        key: String,
        /// Value to match.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        query: Option<String>,
    },
    /// Client IPs.
    ClientIp(Vec<String>),
    /// Free-text search in logs.
    Query(String),
    /// One version only.
    #[serde(rename = "scriptVersion")]
    ScriptVersion(String),
}

/// A tail session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TailSession {
    /// Tail id (for delete).
    pub id: String,
    /// `wss://` URL to connect to with subprotocol `trace-v1`.
    pub url: String,
    /// When the tail expires (re-create after that).
    #[serde(default)]
    pub expires_at: Option<String>,
}

/// What `GET …/tails` answers: one tail (the schema), a list (older docs) or nothing.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ListedTails {
    Many(Vec<TailSession>),
    One(TailSession),
    Empty(NoTail),
}

/// `{}`: no active tail (an object with other members is not this).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoTail {}

/// Tail endpoints; see [`Client::tail`].
#[derive(Debug, Clone, Copy)]
pub struct TailApi<'a> {
    client: &'a Client,
}

impl Client {
    /// Worker tails.
    pub fn tail(&self) -> TailApi<'_> {
        TailApi { client: self }
    }
}

impl TailApi<'_> {
    /// `POST …/workers/scripts/{name}/tails` with filters. Not retried after ambiguous failures
    /// (a repeat would open a second tail).
    pub async fn create(&self, script: &str, filters: &[TailFilter]) -> Result<TailSession, Error> {
        let url = self
            .client
            .account_url(&["workers", "scripts", script, "tails"])?;
        let body = serde_json::json!({ "filters": filters });
        self.client
            .call(
                Request::post(url)
                    .json(&body)?
                    .idempotency(Idempotency::Unsafe),
            )
            .await
    }

    /// `GET …/workers/scripts/{name}/tails`: active tails. The schema (2024 file and the
    /// current SDK's `TailGetResponse`) answers one tail object, `{}`/null when there is
    /// none; older API docs described an array. All three shapes are read.
    pub async fn list(&self, script: &str) -> Result<Vec<TailSession>, Error> {
        let url = self
            .client
            .account_url(&["workers", "scripts", script, "tails"])?;
        let listed: Option<ListedTails> = self.client.call(Request::get(url)).await?;
        Ok(match listed {
            Some(ListedTails::Many(list)) => list,
            Some(ListedTails::One(tail)) => vec![tail],
            Some(ListedTails::Empty(NoTail {})) | None => Vec::new(),
        })
    }

    /// `DELETE …/workers/scripts/{name}/tails/{id}`.
    pub async fn delete(&self, script: &str, tail_id: &str) -> Result<(), Error> {
        let url = self
            .client
            .account_url(&["workers", "scripts", script, "tails", tail_id])?;
        self.client.call_unit(Request::delete(url)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_tails_in_every_shape() {
        let one: ListedTails = serde_json::from_str(
            r#"{"id":"t","url":"wss://x","expires_at":"2030-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        assert!(matches!(one, ListedTails::One(t) if t.id == "t"));
        let many: ListedTails = serde_json::from_str(r#"[{"id":"a","url":"u"}]"#).unwrap();
        assert!(matches!(many, ListedTails::Many(l) if l.len() == 1));
        let empty: ListedTails = serde_json::from_str("{}").unwrap();
        assert!(matches!(empty, ListedTails::Empty(_)));
        assert!(serde_json::from_str::<ListedTails>(r#"{"unexpected":1}"#).is_err());
    }

    #[test]
    fn filters_serialise_like_wrangler() {
        let filters = vec![
            TailFilter::SamplingRate(0.5),
            TailFilter::Outcome(vec!["exception".into()]),
            TailFilter::Header {
                key: "x-id".into(),
                query: None,
            },
            TailFilter::ClientIp(vec!["1.2.3.4".into()]),
            TailFilter::ScriptVersion("v1".into()),
        ];
        let json = serde_json::to_string(&filters).unwrap();
        assert_eq!(
            json,
            r#"[{"sampling_rate":0.5},{"outcome":["exception"]},{"header":{"key":"x-id"}},{"client_ip":["1.2.3.4"]},{"scriptVersion":"v1"}]"#
        );
    }
}
