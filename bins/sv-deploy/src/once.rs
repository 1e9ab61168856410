//! Creating something exactly once through a call that must not simply be repeated (a
//! Worker version upload, a deployment, a Pages deployment are POSTs: sending one twice makes
//! two). The client retries such calls only when the request surely did not arrive (429, a
//! refused connection); after an ambiguous failure (5xx, a reset, a timeout) the request may
//! have been carried out. So we look for what it would have made — each carries a mark unique
//! to this deploy — adopt it if it is there, and only otherwise send the request again, as
//! `sv_infra`'s apply does for resources (`find_live`).

use std::future::Future;
use std::time::Duration;

/// Attempts at one creation, the first included.
const ATTEMPTS: u32 = 4;

/// Failures after which the request may or may not have been carried out, or the API was
/// briefly unavailable: worth looking, then trying again.
fn retryable(e: &sv_cloudflare::Error) -> bool {
    e.category() == sv_cloudflare::ErrorCategory::Network
}

/// Runs `create`; after a failure worth retrying, waits (1 s, 2 s, 4 s), asks `look` whether
/// the lost attempt made it anyway and returns that, else creates again. An error of `look`
/// ends it with the creation's error (what happened is then unknown, and said so).
pub(crate) async fn create_once<T, C, CF, L, LF>(
    what: &str,
    create: C,
    look: L,
) -> anyhow::Result<T>
where
    C: FnMut() -> CF,
    CF: Future<Output = Result<T, sv_cloudflare::Error>>,
    L: FnMut() -> LF,
    LF: Future<Output = anyhow::Result<Option<T>>>,
{
    create_once_with(Duration::from_secs(1), what, create, look).await
}

async fn create_once_with<T, C, CF, L, LF>(
    pause: Duration,
    what: &str,
    mut create: C,
    mut look: L,
) -> anyhow::Result<T>
where
    C: FnMut() -> CF,
    CF: Future<Output = Result<T, sv_cloudflare::Error>>,
    L: FnMut() -> LF,
    LF: Future<Output = anyhow::Result<Option<T>>>,
{
    let mut attempt = 1;
    loop {
        let err = match create().await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        if attempt >= ATTEMPTS || !retryable(&err) {
            return Err(anyhow::Error::new(err).context(format!("{what} failed")));
        }
        tokio::time::sleep(pause * (1 << (attempt - 1))).await;
        match look().await {
            Ok(Some(found)) => return Ok(found),
            Ok(None) => {}
            Err(l) => {
                return Err(anyhow::Error::new(err).context(format!(
                    "{what} failed, and whether it was carried out is unknown ({l:#})"
                )));
            }
        }
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    fn failure(category: sv_cloudflare::ErrorCategory) -> sv_cloudflare::Error {
        sv_cloudflare::Error::Operation {
            operation: "test".into(),
            message: "failed".into(),
            category,
        }
    }

    #[tokio::test]
    async fn a_lost_answer_is_adopted_not_created_twice() {
        let created = Cell::new(0);
        let made = Cell::new(false);
        let got = create_once_with(
            Duration::ZERO,
            "creating",
            || {
                created.set(created.get() + 1);
                // The request arrives and is carried out; its answer is lost.
                made.set(true);
                async { Err::<u32, _>(failure(sv_cloudflare::ErrorCategory::Network)) }
            },
            || {
                let found = made.get().then_some(7);
                async move { Ok(found) }
            },
        )
        .await
        .unwrap();
        assert_eq!((got, created.get()), (7, 1));
    }

    #[test]
    fn not_there_is_created_again_and_refusals_are_not_retried() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let created = Cell::new(0);
        let got = rt.block_on(create_once_with(
            Duration::ZERO,
            "creating",
            || {
                created.set(created.get() + 1);
                let n = created.get();
                async move {
                    if n < 3 {
                        Err(failure(sv_cloudflare::ErrorCategory::Network))
                    } else {
                        Ok(n)
                    }
                }
            },
            || async { Ok(None) },
        ));
        assert_eq!(got.unwrap(), 3);
        let refused = Cell::new(0);
        let got = rt.block_on(create_once_with(
            Duration::ZERO,
            "creating",
            || {
                refused.set(refused.get() + 1);
                async { Err::<u32, _>(failure(sv_cloudflare::ErrorCategory::Resource)) }
            },
            || async { Ok(Some(1)) },
        ));
        assert!(got.is_err());
        assert_eq!(refused.get(), 1);
        let looked = Cell::new(0);
        let got = rt.block_on(create_once_with(
            Duration::ZERO,
            "creating",
            || async { Err::<u32, _>(failure(sv_cloudflare::ErrorCategory::Network)) },
            || {
                looked.set(looked.get() + 1);
                async { Ok(None) }
            },
        ));
        assert!(got.is_err());
        assert_eq!(looked.get(), ATTEMPTS - 1);
    }
}
