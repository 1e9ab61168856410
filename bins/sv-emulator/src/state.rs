//! Shared emulator state: configuration, the control-plane model behind one lock, the
//! store, D1 databases, id generation and the clock. HTTP handlers are thin wrappers over
//! the methods the resource modules add to [`AppState`].

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

use crate::Error;
use crate::api::ApiError;
use crate::config::Config;
use crate::d1::D1Manager;
use crate::faults::FaultRuntime;
use crate::model::{Account, Model, User, Zone};
use crate::store::Store;
use crate::tail::TailHub;
use crate::validation::Validation;
use crate::worker_assets::AssetSessions;

pub struct AppState {
    pub cfg: Config,
    model: Mutex<Model>,
    pub store: Store,
    pub d1: D1Manager,
    rng: Mutex<StdRng>,
    /// Added to the wall clock (admin `clock` route), so expiry can be tested without waiting.
    clock_offset_ms: AtomicI64,
    pub faults: FaultRuntime,
    pub tails: TailHub,
    pub assets: AssetSessions,
    /// The `--validate-requests` mode: on/off and the violations seen.
    pub validation: Validation,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl AppState {
    /// Opens (or creates) the store and loads the model, seeding it on first start.
    pub fn open(cfg: Config) -> Result<Arc<Self>, Error> {
        if let Some(dir) = &cfg.data_dir {
            std::fs::create_dir_all(dir.join("d1")).map_err(|source| Error::Io {
                path: dir.clone(),
                source,
            })?;
        }
        let store = Store::open(cfg.data_dir.as_deref())?;
        let rng = match cfg.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        let d1 = D1Manager::new(cfg.data_dir.as_ref().map(|d| d.join("d1")));
        let faults = FaultRuntime::new(&cfg);
        let state = Arc::new(Self {
            model: Mutex::new(Model::default()),
            store,
            d1,
            rng: Mutex::new(rng),
            clock_offset_ms: AtomicI64::new(0),
            faults,
            tails: TailHub::default(),
            assets: AssetSessions::default(),
            validation: Validation::new(cfg.validate_requests),
            cfg,
        });
        let model = match state.store.load_model()? {
            Some(m) => m,
            None => {
                let m = state.seed_model();
                state.store.save_model(&m)?;
                m
            }
        };
        *lock(&state.model) = model;
        state.load_tails()?;
        Ok(state)
    }

    /// The model a fresh emulator starts with: one user, one account, one zone.
    pub fn seed_model(&self) -> Model {
        let now = self.now_rfc3339();
        let cfg = &self.cfg;
        Model {
            user: User {
                id: self.hex_id(),
                email: cfg.user_email.clone(),
                token_id: self.hex_id(),
                token_issued_on: now.clone(),
                token_last_used_on: None,
            },
            accounts: vec![Account {
                id: cfg.account_id.clone(),
                name: cfg.account_name.clone(),
                created_on: now.clone(),
                membership_id: self.hex_id(),
            }],
            zones: vec![Zone {
                id: cfg.zone_id.clone(),
                name: cfg.zone_name.clone(),
                account_id: cfg.account_id.clone(),
                created_on: now,
                name_servers: vec![
                    "ada.ns.cloudflare.com".into(),
                    "bob.ns.cloudflare.com".into(),
                ],
            }],
            subdomain: cfg.workers_subdomain.clone(),
            ..Model::default()
        }
    }

    /// Runs `f` on the model without changing it.
    pub fn read<R>(&self, f: impl FnOnce(&Model) -> R) -> R {
        f(&lock(&self.model))
    }

    /// Runs `f` on the model and, when it succeeds, persists the snapshot before the
    /// response goes out. `f` must validate before it mutates: an `Err` is not rolled back.
    pub fn mutate<R>(
        &self,
        f: impl FnOnce(&mut Model) -> Result<R, ApiError>,
    ) -> Result<R, ApiError> {
        let mut model = lock(&self.model);
        let out = f(&mut model)?;
        self.store.save_model(&model)?;
        Ok(out)
    }

    /// Replaces the whole model (admin reset).
    pub fn replace_model(&self, model: Model) -> Result<(), Error> {
        let mut guard = lock(&self.model);
        self.store.save_model(&model)?;
        *guard = model;
        Ok(())
    }

    pub fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis() + self.clock_offset_ms.load(Ordering::Relaxed)
    }

    pub fn now_secs(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp_millis(self.now_ms()).unwrap_or_default()
    }

    /// `2024-08-06T22:28:30.123456Z`, the timestamp shape of the API.
    pub fn now_rfc3339(&self) -> String {
        self.now().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
    }

    pub fn advance_clock(&self, ms: i64) {
        self.clock_offset_ms.fetch_add(ms, Ordering::Relaxed);
    }

    /// 32 lower-case hex characters from the (seedable) RNG.
    pub fn hex_id(&self) -> String {
        let bytes: [u8; 16] = lock(&self.rng).random();
        hex::encode(bytes)
    }

    /// A v4 UUID from the (seedable) RNG.
    pub fn uuid(&self) -> String {
        let bytes: [u8; 16] = lock(&self.rng).random();
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }

    /// A float in `[0, 1)` from the RNG (traffic splits, fault rolls).
    pub fn random_unit(&self) -> f64 {
        lock(&self.rng).random::<f64>()
    }

    /// Fails with Cloudflare's routing error unless `account_id` is a known account.
    pub fn check_account(&self, account_id: &str) -> Result<(), ApiError> {
        let known = self.read(|m| m.accounts.iter().any(|a| a.id == account_id));
        if known {
            Ok(())
        } else {
            Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                9109,
                "Unauthorized to access requested resource",
            ))
        }
    }
}
