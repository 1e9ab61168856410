//! The v4 response envelope `{success, errors, messages, result, result_info}`.

use serde::{Deserialize, Serialize};

use crate::error::ApiMessage;

/// `result_info`: pagination details. Page-style lists fill `page`/`per_page`/`count`/
/// `total_count` (Pages adds `total_pages`); cursor-style lists fill `cursor`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultInfo {
    /// 1-based page number of this answer.
    #[serde(default)]
    pub page: Option<u64>,
    /// Page size the server used.
    #[serde(default)]
    pub per_page: Option<u64>,
    /// Items on this page.
    #[serde(default)]
    pub count: Option<u64>,
    /// Items across all pages.
    #[serde(default)]
    pub total_count: Option<u64>,
    /// Number of pages (Pages API only).
    #[serde(default)]
    pub total_pages: Option<u64>,
    /// Cursor for the next page; absent or empty at the end.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// The envelope as received; `result` is decoded into the endpoint's type afterwards.
/// `messages[]` is ignored: it carries notices, never data, and its shape varies.
#[derive(Debug, Deserialize)]
pub(crate) struct RawEnvelope {
    #[serde(default)]
    pub success: Option<bool>,
    #[serde(default)]
    pub errors: Vec<ApiMessage>,
    #[serde(default)]
    pub result: serde_json::Value,
    #[serde(default)]
    pub result_info: Option<ResultInfo>,
}

impl RawEnvelope {
    pub(crate) fn empty_success() -> Self {
        Self {
            success: Some(true),
            errors: Vec::new(),
            result: serde_json::Value::Null,
            result_info: None,
        }
    }
}

/// Just the `errors[]` of a failed answer (the rest may be anything).
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(default)]
    pub errors: Vec<ApiMessage>,
}
