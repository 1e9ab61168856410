//! Keeping credentials out of messages: URLs lose their user info and query values, header
//! values are never shown.

use std::collections::BTreeMap;

use serde::Serializer;
use serde::ser::SerializeMap;

/// The URL as it may appear in a report or error: `https://***@host/path?key=***`.
pub fn redact_url(url: &url::Url) -> String {
    let mut u = url.clone();
    if !u.username().is_empty() || u.password().is_some() {
        // Setting these only fails for URLs that cannot have credentials at all.
        let _ = u.set_username("***");
        let _ = u.set_password(None);
    }
    if u.query().is_some() {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, _)| (k.into_owned(), "***".to_owned()))
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    u.set_fragment(None);
    u.to_string()
}

/// Redacts any URL-looking text inside an error message from an HTTP library.
pub fn redact_message(message: &str, url: &url::Url) -> String {
    let full = url.as_str();
    let redacted = redact_url(url);
    let mut out = message.replace(full, &redacted);
    // reqwest prints URLs without the fragment; cover that form too.
    let mut no_fragment = url.clone();
    no_fragment.set_fragment(None);
    out = out.replace(no_fragment.as_str(), &redacted);
    if let Some(p) = url.password() {
        out = out.replace(p, "***");
    }
    out
}

pub(crate) fn serialize_header_names<S: Serializer>(
    headers: &BTreeMap<String, String>,
    s: S,
) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(headers.len()))?;
    for name in headers.keys() {
        map.serialize_entry(name, "<redacted>")?;
    }
    map.end()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_credentials_and_query_values() {
        let u: url::Url = "https://bob:pw@example.com/h?token=abc&x=1#frag"
            .parse()
            .unwrap();
        assert_eq!(redact_url(&u), "https://***@example.com/h?token=***&x=***");
        let plain: url::Url = "http://127.0.0.1:8080/health".parse().unwrap();
        assert_eq!(redact_url(&plain), "http://127.0.0.1:8080/health");
    }

    #[test]
    fn messages_are_scrubbed() {
        let u: url::Url = "https://bob:pw@example.com/h?token=abc".parse().unwrap();
        let msg = format!("error sending request for url ({u})");
        let out = redact_message(&msg, &u);
        assert!(!out.contains("abc") && !out.contains("pw"), "{out}");
    }
}
