//! What every command needs: config, environment, Cloudflare client, state store; and the
//! one way a plan is computed.

use std::path::PathBuf;

use anyhow::Context as _;
use sv_actions::Runner;
use sv_cli::{CloudflareArgs, GlobalArgs, input_error};
use sv_config::{Environment, LoadedConfig, StateBackend};
use sv_infra::{Inventory, StateStore};
use sv_planner::{Desired, Plan, PlanInput, PlanOptions, State};

pub struct Ctx {
    pub global: GlobalArgs,
    pub runner: Runner,
    pub config: LoadedConfig,
    pub env_name: String,
    pub env: Environment,
    client: Option<sv_cloudflare::Client>,
    cloudflare: CloudflareArgs,
    pub store: Box<dyn StateStore>,
}

/// A computed plan and what it was computed from.
pub use sv_infra::converge::Planned;

impl Ctx {
    pub fn new(global: &GlobalArgs, cf: &CloudflareArgs) -> anyhow::Result<Self> {
        let runner = sv_cli::context::runner();
        let config = sv_cli::context::load_config(global)?;
        let env = sv_cli::context::environment(&config, global)?.clone();
        let env_name = env.name.clone();
        // Only commands that call the API need a token (`state list` and `unlock` of local
        // state do not); state in R2 needs it for everything.
        let client = if cf.api_token.is_some() {
            Some(sv_cli::context::cloudflare(cf, &runner)?)
        } else {
            None
        };
        let store: Box<dyn StateStore> = match (&config.config.state, &client) {
            (StateBackend::R2(r2), None) => {
                // Fails with the message that names the missing variable.
                let client = sv_cli::context::cloudflare(cf, &runner)
                    .with_context(|| format!("state is in R2 bucket `{}`", r2.bucket))?;
                sv_infra::store::configured(&config, &env_name, Some(&client))?
            }
            (_, client) => sv_infra::store::configured(&config, &env_name, client.as_ref())?,
        };
        Ok(Self {
            global: global.clone(),
            runner,
            config,
            env_name,
            env,
            client,
            cloudflare: cf.clone(),
            store,
        })
    }

    /// The Cloudflare client; the error names the missing token.
    pub fn client(&self) -> anyhow::Result<&sv_cloudflare::Client> {
        match &self.client {
            Some(c) => Ok(c),
            // Fails with the message that says which variable to set.
            None => Err(sv_cli::context::cloudflare(&self.cloudflare, &self.runner)
                .err()
                .unwrap_or_else(|| anyhow::anyhow!("no Cloudflare client"))),
        }
    }

    pub fn env(&self) -> &Environment {
        &self.env
    }

    pub fn root(&self) -> PathBuf {
        self.config.root.clone()
    }

    /// The state, or an empty one for an environment never applied. The empty state has
    /// no lineage yet (so two plans of a new environment agree); [`stamp_lineage`] gives it
    /// one before its first write.
    pub fn load_state(&self) -> anyhow::Result<State> {
        let state = self
            .store
            .load()
            .map_err(input_error)?
            .unwrap_or_else(|| State::new(&self.env_name, ""));
        state
            .expect_environment(&self.env_name)
            .map_err(input_error)?;
        Ok(state)
    }

    /// sha256 over sv.yaml and the wrangler configs it names.
    pub fn config_checksum(&self) -> anyhow::Result<String> {
        let mut bytes = std::fs::read(&self.config.path)
            .with_context(|| format!("cannot read {}", self.config.path.display()))?;
        for w in self.config.wrangler.values() {
            bytes.extend_from_slice(w.path.to_string_lossy().as_bytes());
            bytes.extend(std::fs::read(&w.path).unwrap_or_default());
        }
        Ok(sv_planner::sha256(&bytes))
    }

    pub fn desired(&self) -> anyhow::Result<Vec<Desired>> {
        sv_infra::desired(self.env(), &self.root()).map_err(input_error)
    }

    pub async fn inventory(&self, state: &State, desired: &[Desired]) -> anyhow::Result<Inventory> {
        let reads = sv_infra::inventory::Reads::in_use(desired, state);
        sv_infra::inventory(self.client()?, self.env().zone.as_deref(), state, &reads)
            .await
            .context("reading the live Cloudflare account")
    }

    /// Reads everything and computes the plan.
    pub async fn plan(&self, options: PlanOptions) -> anyhow::Result<Planned> {
        let mut state = self.load_state()?;
        let desired = self.desired()?;
        // A mistyped --target is bad input: say so before reading the account.
        for target in &options.targets {
            if !desired.iter().any(|d| &d.address == target)
                && !state.resources.contains_key(target)
            {
                return Err(input_error(sv_planner::PlanError::UnknownTarget(
                    target.clone(),
                )));
            }
        }
        // The token's permissions are read while the account is: a missing read permission
        // is named instead of the 403 the list call it breaks gets.
        let (inventory, policies) = tokio::join!(
            self.inventory(&state, &desired),
            sv_infra::scope::token_policies(self.client()?)
        );
        let read_scope = policies.map(|p| {
            let mut needs = sv_infra::scope::read_needs(&desired, &state);
            let zone_id = inventory.as_ref().ok().and_then(|i| i.zone_id.clone());
            if zone_id.is_none() {
                // Without the zone's id a grant on that one zone cannot be recognised.
                needs.retain(|p, _| !p.zone);
            }
            let zone = self.env().zone.as_deref().zip(zone_id.as_deref());
            sv_infra::scope::evaluate(&p, self.client_account(), zone, &needs)
        });
        enforce_scope(read_scope, ScopeFor::Planning)?;
        let inventory = inventory?;
        let adopted = state.adopt_pending(&inventory.observed, &desired, chrono::Utc::now());
        let checksum = self.config_checksum()?;
        let mut plan = Plan::compute(&PlanInput {
            environment: &self.env_name,
            desired: &desired,
            observed: &inventory.observed,
            state: &state,
            config_checksum: &checksum,
            options,
            now: chrono::Utc::now(),
            tool_version: env!("CARGO_PKG_VERSION"),
        })
        .map_err(input_error)?;
        for address in &adopted {
            plan.notes.push(format!(
                "{address}: created by an interrupted apply and adopted into state now"
            ));
        }
        plan.notes
            .extend(sv_infra::deferral_notes(&plan, self.client()?).await);
        Ok(Planned {
            plan,
            inventory,
            state,
            adopted,
        })
    }

    fn client_account(&self) -> &str {
        self.client
            .as_ref()
            .and_then(sv_cloudflare::Client::account_id)
            .unwrap_or_default()
    }

    /// In a CI job, state in a local file the checkout does not contain is written into a
    /// workspace that is thrown away when the job ends: the next run would plan everything
    /// as new. Says so (an Actions warning) instead of letting it happen quietly.
    pub fn warn_if_state_is_ephemeral(&self) {
        if !self.runner.is_active() || !matches!(self.config.config.state, StateBackend::Local(_)) {
            return;
        }
        if !matches!(self.store.load(), Ok(None)) {
            return;
        }
        let message = format!(
            "state {} is a local file this checkout does not contain: what this job records \
             there is lost when the job ends (the next run plans everything as new). Keep \
             state in R2 (`state: {{ r2: {{ bucket: …, prefix: sv/ }} }}` in sv.yaml) or commit \
             it.",
            self.store.describe()
        );
        tracing::warn!("{message}");
        let _ = self.runner.annotate(
            &sv_actions::Annotation::warning(message).title("sv-plan: state is not kept"),
        );
    }

    pub fn actor(&self) -> sv_audit::Actor {
        sv_audit::Actor::from_env(sv_cli::env_vars::process_env)
    }

    pub fn audit(&self) -> sv_audit::AuditLog {
        sv_audit::AuditLog::new(sv_audit::AuditLog::default_path(&self.config.root))
    }

    pub fn run_url(&self) -> Option<String> {
        sv_cli::env_vars::run_url(sv_cli::env_vars::process_env)
    }
}

/// Gives a state that was never written its lineage.
pub fn stamp_lineage(state: &mut State) {
    if state.lineage.is_empty() {
        state.lineage = uuid::Uuid::new_v4().to_string();
    }
}

/// What a token-scope verdict is checked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeFor {
    /// Reading the account for a plan.
    Planning,
    /// Making a plan's changes.
    Applying,
}

/// Refuses (exit 2, nothing changed) when the token lacks a permission `what` needs, naming
/// each, or is not active. A token whose permissions cannot be read goes on unchecked:
/// said at info level before planning (a list call it cannot make fails with Cloudflare's
/// message anyway), as a warning before applying.
pub fn enforce_scope(
    check: Result<sv_infra::scope::ScopeCheck, sv_infra::Error>,
    what: ScopeFor,
) -> anyhow::Result<()> {
    use sv_infra::scope::ScopeCheck;
    let (cannot, hint, when) = match what {
        ScopeFor::Planning => (
            "read what this plan looks at",
            "; a Write/Edit permission includes the Read",
            "planning",
        ),
        ScopeFor::Applying => ("make these changes", "", "applying"),
    };
    let unchecked = |why: &dyn std::fmt::Display| {
        let message = format!("token permissions not checked before {when}: {why}");
        match what {
            ScopeFor::Planning => tracing::info!("{message}"),
            ScopeFor::Applying => tracing::warn!("{message}"),
        }
    };
    match check {
        Ok(ScopeCheck::Granted) => Ok(()),
        Ok(ScopeCheck::Missing(missing)) => {
            let lines: Vec<String> = missing.iter().map(|m| format!("  - {m}")).collect();
            Err(input_error(anyhow::anyhow!(
                "the API token cannot {cannot}; it lacks:\n{}\nadd the permission(s) to the \
                 token (dashboard → My Profile → API Tokens → Edit{hint}) and run again. \
                 Nothing was changed.",
                lines.join("\n")
            )))
        }
        Ok(ScopeCheck::Inactive { status }) => Err(input_error(anyhow::anyhow!(
            "the API token is {status}: nothing was changed; create or roll a token \
             (`sv-onboard token`)"
        ))),
        Ok(ScopeCheck::Unknown(why)) => {
            unchecked(&why);
            Ok(())
        }
        Err(e) => {
            unchecked(&format!("{e:#}"));
            Ok(())
        }
    }
}
