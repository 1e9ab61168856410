//! Router assembly, the listener (with connection kill switches for `reset` faults) and the
//! library entry points: [`Emulator::builder`], [`Emulator::spawn`], [`RunningEmulator`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use axum::Router;
use axum::extract::connect_info::Connected;
use axum::extract::{DefaultBodyLimit, OriginalUri, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::Error;
use crate::api::ApiError;
use crate::config::{Config, FaultConfig, is_hex32};
use crate::faults::ConnHandle;
use crate::state::AppState;

/// A configured emulator, not yet listening.
pub struct Emulator {
    state: Arc<AppState>,
    /// Extra routers mounted on the same listener (e.g. the GitHub emulator at `/github`).
    mounts: Vec<(String, Router)>,
}

/// Builder for [`Emulator`]; defaults are in-memory with the documented seed identities.
#[derive(Debug, Default)]
pub struct EmulatorBuilder {
    cfg: Config,
}

impl EmulatorBuilder {
    pub fn in_memory(mut self) -> Self {
        self.cfg.data_dir = None;
        self
    }

    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cfg.data_dir = Some(dir.into());
        self
    }

    pub fn account(mut self, id: impl Into<String>, name: impl Into<String>) -> Self {
        self.cfg.account_id = id.into();
        self.cfg.account_name = name.into();
        self
    }

    pub fn zone(mut self, id: impl Into<String>, name: impl Into<String>) -> Self {
        self.cfg.zone_id = id.into();
        self.cfg.zone_name = name.into();
        self
    }

    /// `None` starts the account without a workers.dev subdomain.
    pub fn workers_subdomain(mut self, sub: Option<String>) -> Self {
        self.cfg.workers_subdomain = sub;
        self
    }

    /// Accept only this bearer token.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.cfg.token = Some(token.into());
        self
    }

    pub fn seed(mut self, seed: u64) -> Self {
        self.cfg.seed = Some(seed);
        self
    }

    pub fn faults(mut self, faults: FaultConfig) -> Self {
        self.cfg.faults = faults;
        self
    }

    /// Enables the rate-limit mode: 1,200 requests per 5 minutes, both scaled by `scale`.
    pub fn rate_limit(mut self, scale: f64) -> Self {
        self.cfg.rate_limit_scale = Some(scale);
        self
    }

    /// Checks every API request against its operation's request schema
    /// (`--validate-requests`, see [`crate::validation`]).
    pub fn validate_requests(mut self, on: bool) -> Self {
        self.cfg.validate_requests = on;
        self
    }

    /// Takes every setting from `cfg`.
    pub fn config(mut self, cfg: Config) -> Self {
        self.cfg = cfg;
        self
    }

    pub fn build(self) -> Result<Emulator, Error> {
        let cfg = self.cfg;
        if !is_hex32(&cfg.account_id) {
            return Err(Error::Config(format!(
                "account id must be 32 hex characters, got {:?}",
                cfg.account_id
            )));
        }
        if !is_hex32(&cfg.zone_id) {
            return Err(Error::Config(format!(
                "zone id must be 32 hex characters, got {:?}",
                cfg.zone_id
            )));
        }
        Ok(Emulator {
            state: AppState::open(cfg)?,
            mounts: Vec::new(),
        })
    }
}

/// A listening emulator. Dropping it does not stop the server; call [`shutdown`](Self::shutdown).
pub struct RunningEmulator {
    /// `http://127.0.0.1:PORT` (no trailing slash, no `/client/v4`).
    pub base_url: String,
    /// `http://127.0.0.1:PORT/client/v4`, the value for `CLOUDFLARE_API_BASE_URL`.
    pub api_base_url: String,
    pub addr: SocketAddr,
    pub account_id: String,
    pub zone_id: String,
    pub zone_name: String,
    pub state: Arc<AppState>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl RunningEmulator {
    /// Stops accepting, lets in-flight requests finish, and returns once the server is down
    /// (the store is then safe to reopen).
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Waits until the server stops (it only stops through [`shutdown`](Self::shutdown) or an
    /// error).
    pub async fn wait(mut self) {
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Emulator {
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    pub fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    /// Mounts another router under `path` on the same listener. This is the spot for the
    /// GitHub REST emulator: `emu.nest("/github", sv_emu_github::router(gh_state))`.
    #[must_use]
    pub fn nest(mut self, path: &str, other: Router) -> Self {
        self.mounts.push((path.to_string(), other));
        self
    }

    /// The whole router (API, admin, signed URLs, emulated Workers, mounted routers).
    pub fn router(&self) -> Router {
        self.mounts
            .iter()
            .fold(router(self.state.clone()), |r, (path, other)| {
                r.nest(path, other.clone())
            })
    }

    /// Binds `addr` (e.g. `127.0.0.1:0`) and serves in a background task.
    pub async fn spawn(self, addr: &str) -> Result<RunningEmulator, Error> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind {
                addr: addr.to_string(),
                source,
            })?;
        let local = listener.local_addr().map_err(|source| Error::Bind {
            addr: addr.to_string(),
            source,
        })?;
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let app = self.router();
        let task = tokio::spawn(async move {
            let served = axum::serve(
                KillableListener { inner: listener },
                app.into_make_service_with_connect_info::<ConnHandle>(),
            )
            .with_graceful_shutdown(async move {
                let _ = stop_rx.await;
            })
            .await;
            if let Err(err) = served {
                tracing::error!("emulator server stopped: {err}");
            }
        });
        let base_url = format!("http://{local}");
        let cfg = &self.state.cfg;
        Ok(RunningEmulator {
            api_base_url: format!("{base_url}/client/v4"),
            base_url,
            addr: local,
            account_id: cfg.account_id.clone(),
            zone_id: cfg.zone_id.clone(),
            zone_name: cfg.zone_name.clone(),
            state: self.state.clone(),
            stop: Some(stop_tx),
            task: Some(task),
        })
    }
}

/// The emulator's router. Layout:
/// * `/client/v4/…` — the emulated Cloudflare API (faults and auth apply here only);
/// * `/__admin/…` — test controls (reset, snapshot, inject events, clock, faults);
/// * `/__signed/…` — pre-signed URLs handed out by D1 export/import (no auth);
/// * `/github/…` — reserved for the GitHub REST emulator (`sv_emu_github::router`),
///   mounted with [`Emulator::nest`] (or [`with_github`] on a bare router);
/// * any request whose Host is `*.workers.dev`, a Worker route or a custom domain is answered
///   by the emulated Worker instead.
pub fn router(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .merge(crate::identity::routes())
        .merge(crate::kv::routes())
        .merge(crate::d1::routes())
        .merge(crate::r2::routes())
        .merge(crate::dns::routes())
        .merge(crate::workers::routes())
        .merge(crate::worker_routes::routes())
        .merge(crate::worker_assets::routes())
        .merge(crate::tail::routes())
        .merge(crate::graphql::routes())
        .merge(crate::pages::routes())
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::validation::check,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), scope_check))
        .layer(middleware::from_fn_with_state(state.clone(), auth))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::faults::apply,
        ));
    Router::new()
        .nest("/client/v4", api)
        .nest("/__admin", crate::admin::routes())
        .nest("/__signed/d1", crate::d1::signed_routes())
        .nest("/__tail", crate::tail::ws_routes())
        .fallback(no_route)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::worker_http::dispatch,
        ))
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

/// Mounts another router (the GitHub emulator) under `/github` on the same listener.
pub fn with_github(router: Router, github: Router) -> Router {
    router.nest("/github", github)
}

async fn no_route() -> Response {
    let mut e = ApiError::bad_request(7000, "No route for that URI");
    e.status = StatusCode::BAD_REQUEST;
    e.into_response()
}

async fn method_not_allowed() -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        7001,
        "Method not allowed for this route",
    )
    .into_response()
}

fn no_route_for(path: &str) -> ApiError {
    let mut e = ApiError::bad_request(
        7003,
        format!("Could not route to {path}, perhaps your object identifier is invalid?"),
    );
    e.errors.push(crate::api::ErrorItem {
        code: 7000,
        message: "No route for that URI".into(),
        error_chain: Vec::new(),
    });
    e
}

/// Rejects unknown account and zone ids before any handler runs.
async fn scope_check(
    State(st): State<Arc<AppState>>,
    OriginalUri(uri): OriginalUri,
    req: Request,
    next: Next,
) -> Response {
    let rel = req.uri().path().to_string();
    let mut segs = rel.trim_start_matches('/').split('/');
    let (first, id) = (segs.next(), segs.next());
    match (first, id) {
        (Some("accounts"), Some(id)) if !id.is_empty() => {
            if !is_hex32(id) {
                return no_route_for(uri.path()).into_response();
            }
            if let Err(e) = st.check_account(id) {
                return e.into_response();
            }
        }
        (Some("zones"), Some(id)) if !id.is_empty() => {
            let known = st.read(|m| m.zones.iter().any(|z| z.id == id));
            if !known {
                return no_route_for(uri.path()).into_response();
            }
        }
        _ => {}
    }
    next.run(req).await
}

/// Paths that authenticate with an upload JWT the emulator issued, not the API token.
fn uses_upload_jwt(path: &str) -> bool {
    path.starts_with("/pages/assets/") || path.contains("/workers/assets/upload")
}

/// What the emulator knows about a presented token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Known {
    /// Not a token minted through `/user/tokens`.
    Unknown,
    /// A minted token that is active and within its validity window.
    Active,
    /// A minted token that is disabled, expired or not yet valid.
    Inactive,
}

/// Bearer-token (or legacy key + email) authentication.
async fn auth(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let verify = path == "/user/tokens/verify" || path.ends_with("/tokens/verify");
    let lookup = |t: &str| st.token_status(t);
    match check_credentials(&st.cfg, req.headers(), verify, &lookup) {
        Ok(()) => {
            if let Some(token) = bearer(req.headers()) {
                st.record_token_use(token);
            }
            next.run(req).await
        }
        Err(e) if uses_upload_jwt(&path) && e.code() != 6003 => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

/// The bearer token of a request, if it has a well-formed one.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

fn check_credentials(
    cfg: &Config,
    headers: &HeaderMap,
    verify: bool,
    lookup: &dyn Fn(&str) -> Known,
) -> Result<(), ApiError> {
    let invalid = || {
        if verify {
            ApiError::new(StatusCode::UNAUTHORIZED, 1000, "Invalid API Token")
        } else {
            ApiError::new(StatusCode::FORBIDDEN, 10000, "Authentication error")
        }
    };
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| malformed_auth())?;
        let token = value
            .strip_prefix("Bearer ")
            .filter(|t| {
                !t.is_empty()
                    && !t.starts_with("Bearer")
                    && t.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b))
            })
            .ok_or_else(malformed_auth)?;
        return match (lookup(token), &cfg.token) {
            (Known::Active, _) => Ok(()),
            (Known::Inactive, _) => Err(invalid()),
            (Known::Unknown, Some(expected)) if expected != token => Err(invalid()),
            (Known::Unknown, _) => Ok(()),
        };
    }
    let key = headers.get("x-auth-key").and_then(|v| v.to_str().ok());
    let email = headers.get("x-auth-email").and_then(|v| v.to_str().ok());
    match (key, email) {
        (Some(key), Some(_)) => match &cfg.token {
            Some(expected) if expected != key => Err(invalid()),
            _ => Ok(()),
        },
        _ => Err(ApiError::bad_request(
            9106,
            "Missing X-Auth-Key, X-Auth-Email or Authorization headers",
        )),
    }
}

fn malformed_auth() -> ApiError {
    ApiError::bad_request(6003, "Invalid request headers")
        .with_chain(6111, "Invalid format for Authorization header")
}

/// Listener whose connections can be killed (reset) by a fault.
struct KillableListener {
    inner: TcpListener,
}

struct KillableStream {
    inner: TcpStream,
    conn: ConnHandle,
    remote: SocketAddr,
}

impl Listener for KillableListener {
    type Io = KillableStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, remote)) => {
                    let _ = stream.set_nodelay(true);
                    return (
                        KillableStream {
                            inner: stream,
                            conn: ConnHandle::default(),
                            remote,
                        },
                        remote,
                    );
                }
                Err(err) => {
                    tracing::warn!("accept failed: {err}");
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

impl Connected<IncomingStream<'_, KillableListener>> for ConnHandle {
    fn connect_info(stream: IncomingStream<'_, KillableListener>) -> Self {
        let io = stream.io();
        ConnHandle {
            kill: io.conn.kill.clone(),
            remote: Some(io.remote),
        }
    }
}

impl KillableStream {
    fn killed(&self) -> Option<std::io::Error> {
        if self.conn.kill.load(Ordering::SeqCst) {
            // Zero linger turns the close into a TCP reset.
            let _ = self.inner.set_zero_linger();
            Some(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "injected reset",
            ))
        } else {
            None
        }
    }
}

impl AsyncRead for KillableStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if let Some(e) = this.killed() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        if let Some(e) = this.killed() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if let Some(e) = this.killed() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        if let Some(e) = this.killed() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(auth).unwrap());
        h
    }

    #[test]
    fn auth_rules() {
        let none = |_: &str| Known::Unknown;
        let open = Config::default();
        assert!(check_credentials(&open, &headers("Bearer abc"), false, &none).is_ok());
        assert_eq!(
            check_credentials(&open, &headers("Bearer Bearer abc"), false, &none)
                .unwrap_err()
                .code(),
            6003
        );
        assert_eq!(
            check_credentials(&open, &HeaderMap::new(), false, &none)
                .unwrap_err()
                .code(),
            9106
        );
        let locked = Config {
            token: Some("t0k".into()),
            ..Config::default()
        };
        assert!(check_credentials(&locked, &headers("Bearer t0k"), false, &none).is_ok());
        assert_eq!(
            check_credentials(&locked, &headers("Bearer nope"), false, &none)
                .unwrap_err()
                .code(),
            10000
        );
        assert_eq!(
            check_credentials(&locked, &headers("Bearer nope"), true, &none)
                .unwrap_err()
                .code(),
            1000
        );
        // Minted tokens: accepted even with --token, refused when inactive.
        let minted = |t: &str| {
            if t == "minted" {
                Known::Active
            } else if t == "old" {
                Known::Inactive
            } else {
                Known::Unknown
            }
        };
        assert!(check_credentials(&locked, &headers("Bearer minted"), false, &minted).is_ok());
        assert_eq!(
            check_credentials(&open, &headers("Bearer old"), false, &minted)
                .unwrap_err()
                .code(),
            10000
        );
    }
}
