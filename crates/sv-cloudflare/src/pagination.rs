//! Page- and cursor-style list calls as async streams of items.
//!
//! Page style (`page`, `per_page` → `result_info.{page, per_page, count, total_count,
//! total_pages}`) stops at the first of: an empty page; `page ≥ total_pages`;
//! `page · per_page ≥ total_count`; a short page when the server gives no totals; a page number
//! in `result_info` different from the one asked for (a server that ignores `page` — wrangler
//! loops forever on those); no `result_info` at all (the endpoint is not paginated).
//!
//! Cursor style (`cursor` → `result_info.cursor`) stops when the cursor is absent or empty, and
//! fails instead of looping when the server hands back the cursor it was given.
//!
//! Streams own a [`Client`] clone, so they are `'static` and can be moved into tasks. Items are
//! yielded page by page; a failed page ends the stream with that error.

use std::marker::PhantomData;

use futures::future::Either;
use futures::{Stream, TryStreamExt, stream};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::client::{Client, Request};
use crate::error::Error;

/// Collects a list stream into a `Vec`, stopping at the first error.
pub async fn collect<T>(stream: impl Stream<Item = Result<T, Error>>) -> Result<Vec<T>, Error> {
    stream.try_collect().await
}

/// How a list endpoint wraps its items inside `result`.
pub(crate) trait ListShape<T>: DeserializeOwned + Send + 'static {
    fn into_items(self) -> Vec<T>;
}

/// `result: [items]` (a `null` result counts as empty).
#[derive(Deserialize)]
#[serde(transparent)]
pub(crate) struct Bare<T>(Option<Vec<T>>);

impl<T: DeserializeOwned + Send + 'static> ListShape<T> for Bare<T> {
    fn into_items(self) -> Vec<T> {
        self.0.unwrap_or_default()
    }
}

/// `result: {items: [...]}` (Worker versions).
#[derive(Deserialize)]
pub(crate) struct Items<T> {
    #[serde(default = "Vec::new")]
    items: Vec<T>,
}

impl<T: DeserializeOwned + Send + 'static> ListShape<T> for Items<T> {
    fn into_items(self) -> Vec<T> {
        self.items
    }
}

/// `result: {buckets: [...]}` (R2 bucket list, today's shape).
#[derive(Deserialize)]
pub(crate) struct Buckets<T> {
    #[serde(default = "Vec::new")]
    buckets: Vec<T>,
}

impl<T: DeserializeOwned + Send + 'static> ListShape<T> for Buckets<T> {
    fn into_items(self) -> Vec<T> {
        self.buckets
    }
}

/// A stream that yields one error (a list whose URL could not even be built).
fn failed<T: Send + 'static>(err: Error) -> impl Stream<Item = Result<T, Error>> + Send + 'static {
    stream::once(async move { Err(err) })
}

/// A page-style list at `base`; `make` turns the URL into the request (filters, headers) without
/// `page`/`per_page`.
pub(crate) fn page_stream<T, S, F>(
    client: Client,
    per_page: u64,
    base: Result<Url, Error>,
    make: F,
) -> impl Stream<Item = Result<T, Error>> + Send + 'static
where
    T: Send + 'static,
    S: ListShape<T>,
    F: Fn(Url) -> Result<Request, Error> + Send + Sync + 'static,
{
    let base = match base {
        Ok(u) => u,
        Err(e) => return Either::Left(failed(e)),
    };
    let state = (client, make, Some(1_u64), PhantomData::<fn() -> S>);
    Either::Right(
        stream::try_unfold(state, move |(client, make, next, shape)| {
            let base = base.clone();
            async move {
                let Some(page) = next else {
                    return Ok(None);
                };
                let req = make(base)?.query("page", page).query("per_page", per_page);
                let (list, info): (S, _) = client.call_with_info(req).await?;
                let mut items = list.into_items();
                let next = match info {
                    _ if items.is_empty() => None,
                    None => None,
                    Some(info) => {
                        let got = u64::try_from(items.len()).unwrap_or(u64::MAX);
                        if info.page.is_some_and(|p| p != page) {
                            tracing::warn!(
                                asked = page,
                                got = info.page,
                                "server ignored the page parameter; stopping"
                            );
                            // Not the page we asked for but a repeat: drop it and stop.
                            items.clear();
                            None
                        } else if let Some(total_pages) = info.total_pages {
                            (page < total_pages).then_some(page + 1)
                        } else if let (Some(pp), Some(total)) = (info.per_page, info.total_count) {
                            (page.saturating_mul(pp.max(1)) < total).then_some(page + 1)
                        } else if let Some(total) = info.total_count {
                            (page.saturating_mul(per_page) < total).then_some(page + 1)
                        } else {
                            (got >= info.per_page.unwrap_or(per_page)).then_some(page + 1)
                        }
                    }
                };
                Ok(Some((items, (client, make, next, shape))))
            }
        })
        .map_ok(|items| stream::iter(items.into_iter().map(Ok)))
        .try_flatten(),
    )
}

/// A cursor-style list at `base`; `make` turns the URL into the request without `cursor`.
pub(crate) fn cursor_stream<T, S, F>(
    client: Client,
    base: Result<Url, Error>,
    make: F,
) -> impl Stream<Item = Result<T, Error>> + Send + 'static
where
    T: Send + 'static,
    S: ListShape<T>,
    F: Fn(Url) -> Result<Request, Error> + Send + Sync + 'static,
{
    let base = match base {
        Ok(u) => u,
        Err(e) => return Either::Left(failed(e)),
    };
    // State: None = finished; Some(cursor) = fetch next with that cursor (None = first page).
    let state = (client, make, Some(None::<String>), PhantomData::<fn() -> S>);
    Either::Right(
        stream::try_unfold(state, move |(client, make, next, shape)| {
            let base = base.clone();
            async move {
                let Some(cursor) = next else {
                    return Ok(None);
                };
                let req = make(base)?.query_opt("cursor", cursor.as_deref());
                let method = req.method.clone();
                let url = req.redacted_url();
                let (list, info): (S, _) = client.call_with_info(req).await?;
                let items = list.into_items();
                let new_cursor = info.and_then(|i| i.cursor).filter(|c| !c.is_empty());
                let next = match new_cursor {
                    None => None,
                    Some(c) if Some(&c) == cursor.as_ref() => {
                        return Err(Error::Decode {
                    method,
                    url,
                    status: reqwest::StatusCode::OK,
                    detail: "the server returned the same cursor again; stopping to avoid a loop"
                        .into(),
                    source: None,
                });
                    }
                    Some(c) => Some(Some(c)),
                };
                Ok(Some((items, (client, make, next, shape))))
            }
        })
        .map_ok(|items| stream::iter(items.into_iter().map(Ok)))
        .try_flatten(),
    )
}

/// Boxed list stream, for call sites that need a nameable type.
pub type ListStream<T> = std::pin::Pin<Box<dyn Stream<Item = Result<T, Error>> + Send + 'static>>;
