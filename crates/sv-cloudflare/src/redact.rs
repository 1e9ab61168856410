//! One place that turns URLs into something safe to log or put in an error.
//!
//! The API token never travels in a URL (it is an `Authorization` header), but pre-signed URLs
//! handed out by the API (D1 export `signed_url`, import `upload_url`) carry signatures in their
//! query, and a user-supplied base URL could carry `user:password@`. Everything that prints a URL
//! goes through [`RedactedUrl`].

use std::fmt;

use url::Url;

/// Query keys whose values are hidden (matched case-insensitively as substrings).
const SENSITIVE_QUERY_KEYS: &[&str] = &[
    "token",
    "sig",
    "secret",
    "password",
    "passwd",
    "credential",
    "auth",
    "jwt",
    "key",
    "x-amz-",
    "session",
];

const MASK: &str = "***";

/// A URL rendered without credentials: user info is dropped and sensitive query values are
/// replaced by `***`. `Display` and `Debug` print the same redacted text.
#[derive(Clone, PartialEq, Eq)]
pub struct RedactedUrl(String);

impl RedactedUrl {
    /// Redacts user info and the values of query parameters whose names look sensitive.
    pub fn new(url: &Url) -> Self {
        Self(render(url, false))
    }

    /// Redacts user info and *every* query value: for pre-signed URLs, where any parameter may
    /// be part of the signature.
    pub fn presigned(url: &Url) -> Self {
        Self(render(url, true))
    }

    /// The redacted text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn render(url: &Url, hide_all_query: bool) -> String {
    let mut out = String::new();
    out.push_str(url.scheme());
    out.push_str("://");
    if !url.username().is_empty() || url.password().is_some() {
        out.push_str(MASK);
        out.push('@');
    }
    if let Some(host) = url.host_str() {
        out.push_str(host);
    }
    if let Some(port) = url.port() {
        out.push(':');
        out.push_str(&port.to_string());
    }
    out.push_str(url.path());
    if url.query().is_some() {
        let pairs: Vec<String> = url
            .query_pairs()
            .map(|(k, v)| {
                let lower = k.to_ascii_lowercase();
                let hide = hide_all_query || SENSITIVE_QUERY_KEYS.iter().any(|s| lower.contains(s));
                let value = if hide {
                    MASK.to_owned()
                } else {
                    v.into_owned()
                };
                let mut ser = url::form_urlencoded::Serializer::new(String::new());
                ser.append_pair(&k, &value);
                // The serializer encodes `*` as-is, so the mask survives unchanged.
                ser.finish()
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}

impl fmt::Display for RedactedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RedactedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedactedUrl({})", self.0)
    }
}

/// Percent-encodes one path segment, leaving only RFC 3986 unreserved characters as they are
/// (like JavaScript's `encodeURIComponent`, a little stricter). Used for KV keys, R2 object
/// keys (segment by segment) and every other caller-supplied identifier in a path.
pub(crate) fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_user_info_and_sensitive_query_values() {
        let url =
            Url::parse("https://user:pw@example.com:8443/a/b?page=2&token=abc&X-Amz-Signature=zz")
                .unwrap();
        let shown = RedactedUrl::new(&url).to_string();
        assert_eq!(
            shown,
            "https://***@example.com:8443/a/b?page=2&token=***&X-Amz-Signature=***"
        );
        assert!(!shown.contains("pw"));
        assert!(!shown.contains("abc"));
    }

    #[test]
    fn presigned_hides_every_query_value() {
        let url = Url::parse("http://127.0.0.1:9/dl/x.sql?expires=123&id=456").unwrap();
        assert_eq!(
            RedactedUrl::presigned(&url).to_string(),
            "http://127.0.0.1:9/dl/x.sql?expires=***&id=***"
        );
    }

    #[test]
    fn segment_encoding_is_strict() {
        assert_eq!(encode_segment("a b/c?d#e%f"), "a%20b%2Fc%3Fd%23e%25f");
        assert_eq!(encode_segment("Az09-._~"), "Az09-._~");
        assert_eq!(encode_segment("é"), "%C3%A9");
    }
}
