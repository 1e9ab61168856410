//! Integration tests of sv-config: one binary, a module per area.

// Tests may unwrap (workspace rule); helpers outside `#[test]` functions need saying so.
#![allow(clippy::unwrap_used)]

mod derived;
mod invalid;
mod no_panic;
mod schema;
mod valid;

use std::collections::BTreeMap;

/// The variables the fixtures reference.
pub fn vars() -> BTreeMap<String, String> {
    [
        ("CLOUDFLARE_ACCOUNT_ID", "0123456789abcdef0123456789abcdef"),
        (
            "SLACK_RELEASES_WEBHOOK",
            "https://hooks.slack.com/services/T000/B000/releasessecret",
        ),
        (
            "SLACK_ONCALL_WEBHOOK",
            "https://hooks.slack.com/services/T000/B000/oncallsecret",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}
