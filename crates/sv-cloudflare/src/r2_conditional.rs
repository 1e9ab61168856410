//! Conditional R2 object writes: `If-None-Match: *` (create only) and `If-Match: ETAG`
//! (replace only what was read), the compare-and-swap a lock or optimistic update needs.
//!
//! The REST object endpoints (ENDPOINTS.md §5) document no preconditions; R2's S3 API
//! (`PutObject`, `DeleteObject`) and the Workers binding (`onlyIf`) have them, and
//! sv-emulator honours the same headers on the REST endpoints (docs/emulator.md). A failed
//! precondition is an [`Error`] whose status is 412 ([`is_precondition_failed`]).

use bytes::Bytes;
use reqwest::StatusCode;

use crate::Error;
use crate::client::Request;
use crate::r2::{PutObjectResult, R2Api};

/// What must hold for a conditional write to happen.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WriteCondition {
    /// No object under the key yet (`If-None-Match: *`).
    Absent,
    /// The object exists with this etag (`If-Match: "ETAG"`).
    Matches(String),
    /// Unconditional.
    Always,
}

/// Whether `err` is a failed precondition (HTTP 412).
pub fn is_precondition_failed(err: &Error) -> bool {
    err.status() == Some(StatusCode::PRECONDITION_FAILED)
}

fn quoted(etag: &str) -> String {
    format!("\"{}\"", etag.trim_matches('"'))
}

impl R2Api<'_> {
    /// `PUT …/{bucket}/objects/{key}` if `condition` holds; a 412 otherwise. The body is in
    /// memory, so a retried attempt after a lost answer may see its own earlier write as a
    /// failed precondition: callers re-read to tell the two apart.
    pub async fn put_object_if(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        content_type: &str,
        condition: &WriteCondition,
    ) -> Result<PutObjectResult, Error> {
        let url = self.object_url(bucket, key)?;
        let req = match condition {
            WriteCondition::Absent => Request::put(url).header("if-none-match", "*")?,
            WriteCondition::Matches(etag) => Request::put(url).header("if-match", &quoted(etag))?,
            WriteCondition::Always => Request::put(url),
        };
        self.client.call(req.bytes(body, Some(content_type))).await
    }

    /// `DELETE …/{bucket}/objects/{key}` if the object still has `etag` (`If-Match`).
    pub async fn delete_object_if(&self, bucket: &str, key: &str, etag: &str) -> Result<(), Error> {
        let url = self.object_url(bucket, key)?;
        let req = Request::delete(url).header("if-match", &quoted(etag))?;
        self.client.call_unit(req).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_are_sent_quoted_once() {
        assert_eq!(quoted("abc"), "\"abc\"");
        assert_eq!(quoted("\"abc\""), "\"abc\"");
    }
}
