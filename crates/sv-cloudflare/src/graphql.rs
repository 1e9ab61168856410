//! GraphQL analytics (`POST /graphql`, ENDPOINTS.md §10): a generic query call and a typed
//! helper for Worker invocation sums and CPU-time quantiles.
//!
//! GraphQL answers are not v4 envelopes: `{data, errors}`, HTTP 200 even when the query fails.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::client::{Client, Request};
use crate::retry::Idempotency;

/// One entry of a GraphQL `errors[]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphQlError {
    /// Message.
    pub message: String,
    /// Where in the query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<Vec<serde_json::Value>>,
    /// Extra details (Cloudflare puts a `code` here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<serde_json::Value>,
}

impl GraphQlError {
    /// Whether this looks like a permissions problem. Cloudflare's exact codes are not in
    /// ENDPOINTS.md; we check `extensions.code` for `authz`/`unauthorized` and the message for
    /// "not authorized" (inferred, unverified).
    pub fn is_authorization(&self) -> bool {
        let code = self
            .extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .and_then(|c| c.as_str())
            .unwrap_or_default()
            .to_ascii_lowercase();
        code == "authz"
            || code.contains("unauthori")
            || self.message.to_ascii_lowercase().contains("not authorized")
    }
}

#[derive(Deserialize)]
struct GraphQlResponse<T> {
    data: Option<T>,
    #[serde(default)]
    errors: Option<Vec<GraphQlError>>,
}

/// Filters of [`GraphQlApi::worker_invocations`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvocationQuery {
    /// Only this script (all scripts of the account when `None`).
    pub script_name: Option<String>,
    /// Start (RFC 3339, inclusive).
    pub since: String,
    /// End (RFC 3339, inclusive).
    pub until: String,
    /// Also group by `scriptVersion` (dimension name inferred, see ENDPOINTS.md §10).
    pub by_version: bool,
    /// Maximum groups returned.
    pub limit: u32,
}

/// One group of `workersInvocationsAdaptive`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InvocationGroup {
    /// Group keys.
    #[serde(default)]
    pub dimensions: InvocationDimensions,
    /// Sums.
    #[serde(default)]
    pub sum: InvocationSums,
    /// CPU-time quantiles (microseconds).
    #[serde(default)]
    pub quantiles: InvocationQuantiles,
}

/// `dimensions { scriptName scriptVersion }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvocationDimensions {
    /// Script.
    #[serde(default)]
    pub script_name: Option<String>,
    /// Version id (when grouped by version).
    #[serde(default)]
    pub script_version: Option<String>,
}

/// `sum { requests errors subrequests }`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvocationSums {
    /// Invocations.
    #[serde(default)]
    pub requests: u64,
    /// Failed invocations.
    #[serde(default)]
    pub errors: u64,
    /// Subrequests.
    #[serde(default)]
    pub subrequests: u64,
}

/// `quantiles { cpuTimeP50 cpuTimeP99 }`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct InvocationQuantiles {
    /// Median CPU time (µs).
    #[serde(default, rename = "cpuTimeP50")]
    pub cpu_time_p50: f64,
    /// 99th percentile CPU time (µs).
    #[serde(default, rename = "cpuTimeP99")]
    pub cpu_time_p99: f64,
}

/// GraphQL endpoint; see [`Client::graphql`].
#[derive(Debug, Clone, Copy)]
pub struct GraphQlApi<'a> {
    client: &'a Client,
}

impl Client {
    /// GraphQL analytics.
    pub fn graphql(&self) -> GraphQlApi<'_> {
        GraphQlApi { client: self }
    }
}

impl GraphQlApi<'_> {
    /// Runs a query and decodes `data` as `T`. Queries only read, so they are retried.
    pub async fn query<T: DeserializeOwned>(
        &self,
        query: &str,
        variables: serde_json::Value,
    ) -> Result<T, Error> {
        let url = self.client.url(&["graphql"])?;
        let body = serde_json::json!({ "query": query, "variables": variables });
        let req = Request::post(url)
            .json(&body)?
            .idempotency(Idempotency::Safe);
        let method = req.method.clone();
        let redacted = req.redacted_url();
        let resp = self.client.execute(req).await?;
        let parsed: GraphQlResponse<T> =
            serde_json::from_slice(&resp.body).map_err(|e| Error::Decode {
                method: method.clone(),
                url: redacted.clone(),
                status: resp.status,
                detail: format!("not a GraphQL response: {e}"),
                source: Some(e),
            })?;
        if let Some(errors) = parsed.errors
            && !errors.is_empty()
        {
            return Err(Error::GraphQl { errors });
        }
        parsed.data.ok_or_else(|| Error::Decode {
            method,
            url: redacted,
            status: resp.status,
            detail: "GraphQL response without data".into(),
            source: None,
        })
    }

    /// Sums and CPU quantiles of `workersInvocationsAdaptive` for the client's account, grouped
    /// by script (and version when asked).
    pub async fn worker_invocations(
        &self,
        query: &InvocationQuery,
    ) -> Result<Vec<InvocationGroup>, Error> {
        let account = self.client.require_account()?.to_owned();
        let text = invocations_query(query);
        let mut variables = serde_json::json!({
            "accountTag": account,
            "since": query.since,
            "until": query.until,
            "limit": query.limit,
        });
        if let Some(s) = &query.script_name {
            variables["scriptName"] = s.clone().into();
        }
        #[derive(Deserialize)]
        struct Data {
            viewer: Viewer,
        }
        #[derive(Deserialize)]
        struct Viewer {
            #[serde(default)]
            accounts: Vec<Account>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Account {
            #[serde(default)]
            workers_invocations_adaptive: Vec<InvocationGroup>,
        }
        let data: Data = self.query(&text, variables).await?;
        Ok(data
            .viewer
            .accounts
            .into_iter()
            .flat_map(|a| a.workers_invocations_adaptive)
            .collect())
    }
}

fn invocations_query(q: &InvocationQuery) -> String {
    let (script_var, script_filter) = if q.script_name.is_some() {
        (", $scriptName: string", " scriptName: $scriptName,")
    } else {
        ("", "")
    };
    let version_dim = if q.by_version { " scriptVersion" } else { "" };
    format!(
        "query WorkerInvocations($accountTag: string, $since: string, $until: string, $limit: uint64{script_var}) {{\n\
         \x20 viewer {{\n\
         \x20   accounts(filter: {{accountTag: $accountTag}}) {{\n\
         \x20     workersInvocationsAdaptive(limit: $limit, filter: {{{script_filter} datetime_geq: $since, datetime_leq: $until}}) {{\n\
         \x20       sum {{ requests errors subrequests }}\n\
         \x20       quantiles {{ cpuTimeP50 cpuTimeP99 }}\n\
         \x20       dimensions {{ scriptName{version_dim} }}\n\
         \x20     }}\n\
         \x20   }}\n\
         \x20 }}\n\
         }}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_text_includes_optional_parts() {
        let mut q = InvocationQuery {
            script_name: None,
            since: "a".into(),
            until: "b".into(),
            by_version: false,
            limit: 10,
        };
        let text = invocations_query(&q);
        assert!(!text.contains("scriptName: $scriptName"));
        assert!(!text.contains("scriptVersion"));
        q.script_name = Some("api".into());
        q.by_version = true;
        let text = invocations_query(&q);
        assert!(text.contains("$scriptName: string"));
        assert!(text.contains("scriptName: $scriptName,"));
        assert!(text.contains("dimensions { scriptName scriptVersion }"));
    }

    #[test]
    fn authz_detection() {
        let e = GraphQlError {
            message: "not authorized for that account".into(),
            path: None,
            extensions: None,
        };
        assert!(e.is_authorization());
        let e = GraphQlError {
            message: "syntax".into(),
            path: None,
            extensions: Some(serde_json::json!({"code": "bad_request"})),
        };
        assert!(!e.is_authorization());
    }
}
