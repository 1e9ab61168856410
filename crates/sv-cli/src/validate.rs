//! `validate`: load `sv.yaml` and the wrangler configs it names, resolve every environment
//! and report what sv would manage, without touching any API. Shared by the tools so the
//! same check answers the same way everywhere.

use std::fmt::Write as _;

use clap::Args;
use serde::Serialize;
use sv_config::LoadedConfig;
use sv_report::{Render, Styles, markdown_escape};

/// Check sv.yaml and the wrangler config without calling any API
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Exits 0 when the config is valid, 2 with file:line:column when it is not.\n\
Example: sv-plan validate --config examples/spacevision/sv.yaml"
)]
pub struct ValidateArgs {}

/// What a valid config declares, per environment.
#[derive(Debug, Serialize)]
pub struct ConfigReport {
    pub config: String,
    pub project: String,
    pub environments: Vec<EnvironmentReport>,
}

#[derive(Debug, Serialize)]
pub struct EnvironmentReport {
    pub name: String,
    pub prefix: String,
    pub zone: Option<String>,
    pub protect: bool,
    /// Resource addresses with their Cloudflare names.
    pub resources: Vec<(String, String)>,
    /// Resource addresses in dependency waves.
    pub waves: Vec<Vec<String>>,
    /// Workspaces in build waves.
    pub workspace_waves: Vec<Vec<String>>,
}

impl ConfigReport {
    /// Builds the report; only named environments are listed (developer and preview
    /// environments are derived from them on demand).
    pub fn build(config: &LoadedConfig) -> Result<Self, sv_config::Error> {
        let mut environments = Vec::new();
        for env in config.environments() {
            environments.push(EnvironmentReport {
                name: env.name.clone(),
                prefix: env.prefix.clone(),
                zone: env.zone.clone(),
                protect: env.protect,
                resources: env
                    .resources
                    .values()
                    .map(|r| (r.address.to_string(), r.name.clone()))
                    .collect(),
                waves: env
                    .dependency_waves()?
                    .into_iter()
                    .map(|w| w.into_iter().map(|a| a.to_string()).collect())
                    .collect(),
                workspace_waves: env.workspace_waves()?,
            });
        }
        Ok(Self {
            config: config.path.display().to_string(),
            project: config.config.project.clone(),
            environments,
        })
    }
}

impl Render for ConfigReport {
    fn human(&self, s: &Styles) -> String {
        let mut out = format!(
            "{} {} is valid (project `{}`)\n",
            s.green("✓"),
            self.config,
            self.project
        );
        for env in &self.environments {
            let _ = writeln!(
                out,
                "\n{} — {} resource(s), prefix `{}`{}{}",
                s.bold(&env.name),
                env.resources.len(),
                env.prefix,
                env.zone
                    .as_deref()
                    .map(|z| format!(", zone {z}"))
                    .unwrap_or_default(),
                if env.protect { ", protected" } else { "" }
            );
            for (i, wave) in env.waves.iter().enumerate() {
                let _ = writeln!(out, "  resources {}: {}", i + 1, wave.join(", "));
            }
            for (i, wave) in env.workspace_waves.iter().enumerate() {
                let _ = writeln!(out, "  build {}: {}", i + 1, wave.join(", "));
            }
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!(
            "### ✅ `{}` is valid\n\n| environment | resources | prefix | zone |\n|---|---|---|---|\n",
            markdown_escape(&self.config)
        );
        for env in &self.environments {
            let _ = writeln!(
                out,
                "| {} | {} | `{}` | {} |",
                markdown_escape(&env.name),
                env.resources.len(),
                markdown_escape(&env.prefix),
                markdown_escape(env.zone.as_deref().unwrap_or("—"))
            );
        }
        out
    }
}

/// Runs `validate` for any tool: prints the report, exit 0; config errors exit 2.
pub fn run(global: &crate::GlobalArgs) -> anyhow::Result<crate::ExitStatus> {
    let config = crate::context::load_config(global)?;
    let report = ConfigReport::build(&config).map_err(crate::context::config_error)?;
    global.output().print(&report)?;
    Ok(crate::ExitStatus::Success)
}
