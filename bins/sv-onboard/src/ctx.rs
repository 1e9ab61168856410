//! What the developer-environment commands share: the config, the developer's derived
//! environment, its state store, the Cloudflare client, the audit trail, and the one way
//! resources are created or destroyed (`sv_infra::converge`).

use std::path::PathBuf;

use anyhow::Context as _;
use sv_actions::Runner;
use sv_cli::{CloudflareArgs, GlobalArgs, input_error};
use sv_config::{Environment, LoadedConfig, StateBackend};
use sv_infra::{ConvergeRequest, Converged, LocalStore};
use sv_planner::{Address, PlanOptions};

pub const TOOL: &str = "sv-onboard";

pub struct Ctx {
    pub global: GlobalArgs,
    pub runner: Runner,
    pub config: LoadedConfig,
    pub state_dir: PathBuf,
}

impl Ctx {
    pub fn new(global: &GlobalArgs) -> anyhow::Result<Self> {
        Self::with_config(global, sv_cli::context::load_config(global)?)
    }

    /// For commands that talk to no API (`dev`): a `${VAR}` that is unset (typically
    /// `CLOUDFLARE_ACCOUNT_ID` in a developer's shell) stays as written instead of failing.
    pub fn local(global: &GlobalArgs) -> anyhow::Result<Self> {
        let vars = sv_config::UnsetAsWritten(sv_config::ProcessEnv);
        Self::with_config(global, sv_cli::context::load_config_with(global, &vars)?)
    }

    fn with_config(global: &GlobalArgs, config: LoadedConfig) -> anyhow::Result<Self> {
        let runner = sv_cli::context::runner();
        // A developer environment belongs to one machine: its state stays beside sv.yaml
        // (in the configured directory, or `.sv/state` when the team's state is in R2).
        let state_dir = match &config.config.state {
            StateBackend::Local(dir) => config.resolve_path(dir),
            StateBackend::R2(_) => config.resolve_path(std::path::Path::new(".sv/state")),
        };
        Ok(Self {
            global: global.clone(),
            runner,
            config,
            state_dir,
        })
    }

    pub fn root(&self) -> PathBuf {
        self.config.root.clone()
    }

    /// The developer's environment; an invalid name or a name that makes an invalid
    /// resource name is an input error (exit 2).
    pub fn developer_env(&self, developer: &str) -> anyhow::Result<Environment> {
        self.config
            .developer_environment(developer)
            .map_err(|e| input_error(anyhow::anyhow!("{e}")))
    }

    pub fn store(&self, env: &Environment) -> LocalStore {
        LocalStore::new(&self.state_dir, &env.name)
    }

    pub fn client(&self, cf: &CloudflareArgs) -> anyhow::Result<sv_cloudflare::Client> {
        sv_cli::context::cloudflare(cf, &self.runner)
    }

    pub fn actor(&self) -> String {
        sv_audit::Actor::from_env(sv_cli::env_vars::process_env).0
    }

    pub fn audit(
        &self,
        environment: &str,
        operation: &str,
        target: &str,
        result: sv_audit::Outcome,
        detail: Option<String>,
    ) -> anyhow::Result<()> {
        sv_audit::AuditLog::new(sv_audit::AuditLog::default_path(&self.config.root))
            .append(&sv_audit::AuditRecord {
                time: chrono::Utc::now(),
                actor: self.actor(),
                tool: TOOL.to_owned(),
                environment: Some(environment.to_owned()),
                operation: operation.to_owned(),
                target: target.to_owned(),
                result,
                detail,
                run_url: sv_cli::env_vars::run_url(sv_cli::env_vars::process_env),
            })
            .context("writing the audit trail")
    }

    /// The request `converge` needs for `env`.
    pub fn request<'a>(
        &'a self,
        client: &'a sv_cloudflare::Client,
        env: &'a Environment,
        store: &'a LocalStore,
        options: PlanOptions,
        operation: &str,
    ) -> ConvergeRequest<'a> {
        ConvergeRequest {
            client,
            env,
            root: &self.config.root,
            store,
            options,
            concurrency: 4,
            owner: self.actor(),
            operation: operation.to_owned(),
            config_checksum: String::new(),
        }
    }

    /// Destroys exactly `targets` (or everything in the environment's state when empty and
    /// `all`) through converge.
    pub async fn destroy(
        &self,
        client: &sv_cloudflare::Client,
        env: &Environment,
        targets: Vec<Address>,
        operation: &str,
    ) -> anyhow::Result<Converged> {
        let store = self.store(env);
        let options = PlanOptions {
            destroy: true,
            targets,
            protect: false,
            allow_data_loss: true,
        };
        let req = self.request(client, env, &store, options, operation);
        sv_infra::converge(&req)
            .await
            .with_context(|| format!("destroying resources of {}", env.name))
    }
}

/// The planner address of a config resource, for data stores (the only kinds a developer
/// environment manages).
pub fn planner_address(a: &sv_config::ResourceAddress) -> Option<Address> {
    sv_infra::desired::address(a)
}
