//! The two pagination styles of the v4 API: page/per_page with `result_info` counts, and
//! opaque cursors.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::api::ApiError;

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageReq {
    pub page: usize,
    pub per_page: usize,
}

/// Bounds of one list operation's `per_page`.
#[derive(Debug, Clone, Copy)]
pub struct PageBounds {
    pub default: usize,
    pub min: usize,
    pub max: usize,
}

impl PageReq {
    /// Parses `page` and `per_page`. Non-numbers are a 400; numbers outside the bounds are
    /// clamped, which is what the live API does for `per_page` on most list calls.
    pub fn parse(
        page: Option<&str>,
        per_page: Option<&str>,
        bounds: PageBounds,
    ) -> Result<Self, ApiError> {
        let page = match page {
            None | Some("") => 1,
            Some(p) => parse_positive(p, "page")?.max(1),
        };
        let per_page = match per_page {
            None | Some("") => bounds.default,
            Some(p) => parse_positive(p, "per_page")?.clamp(bounds.min, bounds.max),
        };
        Ok(Self { page, per_page })
    }

    /// Slices one page out of `items`; out-of-range pages are empty, never an error
    /// (clients page until they see an empty page).
    pub fn slice<T: Clone>(&self, items: &[T]) -> (Vec<T>, Value) {
        let total = items.len();
        let start = (self.page - 1).saturating_mul(self.per_page);
        let page_items: Vec<T> = items
            .iter()
            .skip(start)
            .take(self.per_page)
            .cloned()
            .collect();
        let total_pages = total.div_ceil(self.per_page.max(1));
        let info = json!({
            "page": self.page,
            "per_page": self.per_page,
            "count": page_items.len(),
            "total_count": total,
            "total_pages": total_pages,
        });
        (page_items, info)
    }
}

fn parse_positive(s: &str, name: &str) -> Result<usize, ApiError> {
    // Clients send `1`, some send `1.0`.
    let n: f64 = s
        .parse()
        .map_err(|_| ApiError::bad_request(1001, format!("Invalid {name}: {s:?}")))?;
    if !n.is_finite() || n < 0.0 {
        return Err(ApiError::bad_request(
            1001,
            format!("Invalid {name}: {s:?}"),
        ));
    }
    // Truncation is intended: the value was validated as finite and non-negative.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(n as usize)
}

/// Parses an optional bounded integer query parameter.
pub fn parse_limit(
    value: Option<&str>,
    default: usize,
    min: usize,
    max: usize,
) -> Result<usize, ApiError> {
    match value {
        None | Some("") => Ok(default),
        Some(v) => Ok(parse_positive(v, "limit")?.clamp(min, max)),
    }
}

/// Cursor tokens are the last key returned, base64url-encoded, so they are opaque to
/// clients and stable across restarts.
pub fn encode_cursor(last_key: &str) -> String {
    URL_SAFE_NO_PAD.encode(last_key.as_bytes())
}

pub fn decode_cursor(cursor: Option<&str>) -> Result<Option<String>, ApiError> {
    match cursor {
        None | Some("") => Ok(None),
        Some(c) => URL_SAFE_NO_PAD
            .decode(c.as_bytes())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .map(Some)
            .ok_or_else(|| ApiError::bad_request(10001, format!("Invalid cursor: {c:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: PageBounds = PageBounds {
        default: 20,
        min: 5,
        max: 50,
    };

    #[test]
    fn pages_and_clamps() {
        let r = PageReq::parse(Some("2"), Some("1000"), B).unwrap();
        assert_eq!(
            r,
            PageReq {
                page: 2,
                per_page: 50
            }
        );
        let items: Vec<u32> = (0..120).collect();
        let (page, info) = r.slice(&items);
        assert_eq!(page.first(), Some(&50));
        assert_eq!(info["total_pages"], 3);
        assert_eq!(info["count"], 50);
        let (empty, info) = PageReq {
            page: 9,
            per_page: 50,
        }
        .slice(&items);
        assert!(empty.is_empty());
        assert_eq!(info["count"], 0);
    }

    #[test]
    fn bad_page_is_400() {
        assert_eq!(PageReq::parse(Some("x"), None, B).unwrap_err().code(), 1001);
    }

    #[test]
    fn cursor_roundtrip() {
        let c = encode_cursor("a/b c");
        assert_eq!(decode_cursor(Some(&c)).unwrap().as_deref(), Some("a/b c"));
        assert!(decode_cursor(Some("!!")).is_err());
        assert_eq!(decode_cursor(Some("")).unwrap(), None);
    }
}
