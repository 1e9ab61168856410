//! clap arguments of each subcommand, and their conversion into planner options.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use sv_planner::{Address, PlanOptions};

/// Arguments shared by everything that plans.
#[derive(Debug, Clone, Args)]
pub struct PlanFlags {
    /// Only plan this resource (and what it depends on); repeatable
    #[arg(long = "target", value_name = "ADDR")]
    pub targets: Vec<Address>,
    /// Allow deleting or replacing data stores in a protected environment or under
    /// lifecycle.prevent_destroy
    #[arg(long)]
    pub allow_data_loss: bool,
}

impl PlanFlags {
    pub fn options(&self, protect: bool, destroy: bool) -> PlanOptions {
        PlanOptions {
            destroy,
            targets: self.targets.clone(),
            protect,
            allow_data_loss: self.allow_data_loss,
        }
    }
}

/// `sv-plan plan`
#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub flags: PlanFlags,
    /// Save the plan (JSON) for a later `sv-plan apply PLAN`
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit 0 when there are no changes, 2 when there are (1 on error), like terraform
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// In a pull_request run, also post the plan as the sticky PR comment of this environment
    #[arg(long)]
    pub comment: bool,
}

/// `sv-plan comment`
#[derive(Debug, Clone, Args)]
pub struct CommentArgs {
    /// A plan saved by `sv-plan plan --out`
    pub plan: PathBuf,
    /// Pull request number (default: the pull request of this run)
    #[arg(long, value_name = "N")]
    pub pr: Option<u64>,
}

/// `sv-plan drift`
#[derive(Debug, Clone, Args)]
pub struct DriftArgs {
    /// Do not open, update or close the drift issue on GitHub
    #[arg(long)]
    pub no_issue: bool,
    /// Labels of the drift issue (the first one also finds it again)
    #[arg(long = "label", value_name = "LABEL", default_values_t = ["sv:drift".to_owned()])]
    pub labels: Vec<String>,
}

/// `sv-plan apply`
#[derive(Debug, Clone, Args)]
pub struct ApplyArgs {
    /// A plan saved by `sv-plan plan --out`; refused if anything changed since
    pub plan: Option<PathBuf>,
    #[command(flatten)]
    pub flags: PlanFlags,
    /// Apply without asking for confirmation (required when stdin is not a terminal)
    #[arg(long)]
    pub auto_approve: bool,
    /// Show what would be done and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Operations in flight at once within a wave
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub concurrency: usize,
    /// Why (recorded in the state lock)
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Delete or replace data stores (D1, KV, R2) without backing them up first (recorded
    /// in the audit trail)
    #[arg(long)]
    pub no_backup: bool,
    /// When operations fail, open (or update) a GitHub issue for the environment linking this
    /// run; close it after the next apply that succeeds. Needs GITHUB_TOKEN and
    /// GITHUB_REPOSITORY
    #[arg(long)]
    pub failure_issue: bool,
}

/// `sv-plan destroy`
#[derive(Debug, Clone, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub flags: PlanFlags,
    /// Destroy without asking for confirmation
    #[arg(long)]
    pub auto_approve: bool,
    /// Show what would be destroyed and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Operations in flight at once within a wave
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub concurrency: usize,
    /// Delete data stores (D1, KV, R2) without backing them up first (recorded in the
    /// audit trail)
    #[arg(long)]
    pub no_backup: bool,
}

/// `sv-plan state …`
#[derive(Debug, Clone, Subcommand)]
pub enum StateCommand {
    /// List the resources sv manages in this environment
    List,
    /// Show one managed resource as recorded
    Show { address: Address },
    /// Forget a resource (it stays in Cloudflare, unmanaged)
    Rm {
        address: Address,
        /// Show what would be forgotten and change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Break a lock left by a run that is gone
    Unlock { id: String },
}

/// `sv-plan import`
#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// The address in sv.yaml, e.g. kv.sessions
    pub address: Address,
    /// The live id (KV namespace id, D1 uuid, R2 bucket or Pages project name, DNS record id,
    /// route id, custom domain id)
    pub id: String,
    /// Show what would be adopted and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// `sv-plan refresh`
#[derive(Debug, Clone, Args)]
pub struct RefreshArgs {
    /// Show what would be recorded and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// `sv-plan generate`
#[derive(Debug, Clone, Args)]
pub struct GenerateArgs {
    /// Write the `resources:` section (with the import commands as comments) to FILE
    /// instead of printing it
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Only these kinds: kv, d1, r2, dns, pages, route, domain (repeatable; default all)
    #[arg(long = "kind", value_name = "KIND", value_parser = ["kv", "d1", "r2", "dns", "pages", "route", "domain"])]
    pub kinds: Vec<String>,
}
