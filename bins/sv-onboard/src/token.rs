//! `sv-onboard token check`: for each configured token (the variables named by
//! `--token-var`, default `CLOUDFLARE_API_TOKEN`): valid or not, expiry, status, policies
//! (effect, permission groups, resources), issued/modified, and last use where the API
//! reports it. Exit 1 when a token is invalid, disabled or expired, and with
//! `--fail-expiring` also when one expires within `--warn-days`; `--issue` keeps one GitHub
//! issue by marker open while the check fails (what the scheduled workflows/token-check.yml
//! runs).
//!
//! `sv-onboard token rotate`: rolls a Cloudflare API token (`PUT /user/tokens/{id}/value`)
//! and stores the new value in the GitHub Actions repository secret that holds it, sealed to
//! the repository's public key (`sv_github::GitHub::put_secret`). The new value is masked the
//! moment it arrives and lives only in a `SecretString`; the audit trail records the token id,
//! secret name and actor, never the value. GitHub access is checked before the roll, so a token
//! that cannot even read the secrets key fails with nothing changed; a write refused after the
//! roll is reported exactly (new value not stored, secret holds the old, now dead, value) with
//! the way to recover.

use clap::{Args, Subcommand};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Serialize;
use sv_cli::{CloudflareArgs, ExitStatus, GlobalArgs, input_error};
use sv_report::{Render, Styles, markdown_escape};

#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    pub command: TokenCommand,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Report each configured token's status, expiry, policies and last use
    Check(CheckArgs),
    /// Roll a Cloudflare API token and update the GitHub Actions secret that holds it
    Rotate(RotateArgs),
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    /// Id of the token to roll [default: the token in CLOUDFLARE_API_TOKEN itself]
    #[arg(long, value_name = "ID")]
    pub token_id: Option<String>,
    /// Name of the GitHub Actions repository secret that holds the token
    #[arg(long, value_name = "NAME", default_value = "CLOUDFLARE_API_TOKEN")]
    pub secret: String,
    /// Repository holding the secret [default: GITHUB_REPOSITORY]
    #[arg(long, value_name = "OWNER/NAME")]
    pub repo: Option<String>,
    /// Check access and show what would happen; roll nothing, write nothing
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub cloudflare: CloudflareArgs,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Environment variable holding a token to check (repeatable)
    #[arg(
        long = "token-var",
        value_name = "NAME",
        default_value = "CLOUDFLARE_API_TOKEN"
    )]
    pub token_vars: Vec<String>,
    /// Warn when a token expires within this many days
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    pub warn_days: i64,
    /// Exit 1 also when a token expires within --warn-days (not only when it is unusable)
    #[arg(long)]
    pub fail_expiring: bool,
    /// Keep one GitHub issue (marker `sv:token-check:cloudflare`) open while the check fails
    /// and close it when it passes (needs GITHUB_TOKEN with issues: write, GITHUB_REPOSITORY)
    #[arg(long)]
    pub issue: bool,
    #[command(flatten)]
    pub cloudflare: CloudflareArgs,
}

#[derive(Debug, Serialize)]
pub struct TokenReport {
    /// The variable it came from (never the value).
    pub variable: String,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_on: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_on: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_on: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_on: Option<String>,
    /// `allow D1 Write on com.cloudflare.api.account.<id>`.
    pub policies: Vec<String>,
    /// Active, but expires within `--warn-days`.
    pub expiring_soon: bool,
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct CheckReport {
    pub tokens: Vec<TokenReport>,
    /// What `--issue` did (`opened #3 …`, `closed #3`, `none open`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issue: Option<String>,
}

impl Render for CheckReport {
    fn human(&self, s: &Styles) -> String {
        let mut out = String::new();
        for t in &self.tokens {
            let head = format!(
                "{}: {}{}",
                t.variable,
                t.id.as_deref()
                    .map_or_else(|| "token".to_owned(), |i| format!("token {i}")),
                t.name
                    .as_deref()
                    .map(|n| format!(" \"{n}\""))
                    .unwrap_or_default()
            );
            let status = t.status.clone().unwrap_or_else(|| "invalid".into());
            let status = if t.ok {
                s.green(&status)
            } else {
                s.red(&status)
            };
            out.push_str(&format!("{} — {status}\n", s.bold(&head)));
            let field = |k: &str, v: &Option<String>, none: &str| {
                format!("  {k:<10}{}\n", v.as_deref().unwrap_or(none))
            };
            if t.id.is_some() {
                out.push_str(&field("expires", &t.expires_on, "never"));
                out.push_str(&field("issued", &t.issued_on, "not reported"));
                out.push_str(&field("modified", &t.modified_on, "not reported"));
                out.push_str(&field(
                    "last used",
                    &t.last_used_on,
                    "not reported by the API",
                ));
            }
            for p in &t.policies {
                out.push_str(&format!("  policy    {p}\n"));
            }
            for n in &t.notes {
                out.push_str(&format!("  {} {n}\n", s.yellow("!")));
            }
        }
        if let Some(i) = &self.issue {
            out.push_str(&format!("issue: {i}\n"));
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = String::from(
            "### sv-onboard token check\n\n| variable | token | status | expires | last used | policies |\n|---|---|---|---|---|---|\n",
        );
        for t in &self.tokens {
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} | {} |\n",
                t.variable,
                t.id.as_deref().unwrap_or("—"),
                t.status.as_deref().unwrap_or("invalid"),
                t.expires_on.as_deref().unwrap_or("never"),
                t.last_used_on.as_deref().unwrap_or("not reported"),
                t.policies
                    .iter()
                    .map(|p| markdown_escape(p))
                    .collect::<Vec<_>>()
                    .join("<br>")
            ));
        }
        for t in &self.tokens {
            for n in &t.notes {
                out.push_str(&format!("\n> `{}`: {}\n", t.variable, markdown_escape(n)));
            }
        }
        if let Some(i) = &self.issue {
            out.push_str(&format!("\nIssue: {}\n", markdown_escape(i)));
        }
        out
    }
}

/// Names of the permission groups the sv tools ask for (ids as Cloudflare publishes them).
const GROUPS: [(&str, &str); 12] = [
    ("c8fed203ed3043cba015a93ad1616f1f", "Zone Read"),
    ("4755a26eedb94da69e1066d98aa820be", "DNS Write"),
    ("e086da7e2179491d91ee5f35b3ca210a", "Workers Scripts Write"),
    (
        "f7f0eda5697f475c90846e879bab8666",
        "Workers KV Storage Write",
    ),
    ("09b2857d1c31407795e75e3fed8617a1", "D1 Write"),
    (
        "bf7481a1826f439697cb59a20b22293e",
        "Workers R2 Storage Write",
    ),
    ("8d28297797f24fb8a0c332fe0866ec89", "Pages Write"),
    ("05880cd1bdc24d8bae0be2136972816b", "Workers Tail Read"),
    ("b89a480218d04ceb98b4fe57ca29dc1f", "Account Analytics Read"),
    ("28f4b596e7d643029c524985477ae49a", "Workers Routes Write"),
    ("8acbe5bb0d54464ab867149d7f7cf8ac", "User Details Read"),
    ("3518d0f75557482e952c6762d3e64903", "Memberships Read"),
];

fn group_name(g: &sv_cloudflare::tokens::PermissionGroup) -> String {
    g.name.clone().unwrap_or_else(|| {
        GROUPS
            .iter()
            .find(|(id, _)| *id == g.id)
            .map_or_else(|| g.id.clone(), |(_, n)| (*n).to_owned())
    })
}

async fn check_one(
    var: &str,
    token: SecretString,
    cf: &CloudflareArgs,
    warn_days: i64,
) -> anyhow::Result<TokenReport> {
    let mut r = TokenReport {
        variable: var.to_owned(),
        ok: false,
        id: None,
        name: None,
        status: None,
        expires_on: None,
        issued_on: None,
        modified_on: None,
        last_used_on: None,
        policies: Vec::new(),
        expiring_soon: false,
        notes: Vec::new(),
    };
    let base = sv_cloudflare::parse_base_url(cf.api_base_url.as_str()).map_err(input_error)?;
    let config = sv_cloudflare::ClientConfig::new(base, token, cf.account_id.clone());
    let client = sv_cloudflare::Client::builder_from_config(&config)
        .build()
        .map_err(input_error)?;
    let status = match client.user().verify_any().await {
        Ok((_, s)) => s,
        Err(e) => {
            r.notes.push(format!("does not verify: {e}"));
            return Ok(r);
        }
    };
    r.ok = status.is_active();
    r.id = Some(status.id.clone());
    r.status = Some(status.status.clone());
    r.expires_on = status.expires_on.clone();
    match client.tokens().get(&status.id).await {
        Ok(d) => {
            r.name = Some(d.name);
            r.issued_on = d.issued_on;
            r.modified_on = d.modified_on;
            r.last_used_on = d.last_used_on;
            r.expires_on = d.expires_on.or(r.expires_on);
            for p in &d.policies {
                let groups: Vec<String> = p.permission_groups.iter().map(group_name).collect();
                let resources: Vec<String> = p.resources.keys().cloned().collect();
                r.policies.push(format!(
                    "{} {} on {}",
                    p.effect,
                    groups.join(", "),
                    resources.join(", ")
                ));
            }
        }
        Err(e) => r.notes.push(format!(
            "policies, issue date and last use unknown: GET /user/tokens/{} failed ({e}); the token may lack \"API Tokens: Read\"",
            status.id
        )),
    }
    if let Some(exp) = r
        .expires_on
        .as_deref()
        .and_then(|e| chrono::DateTime::parse_from_rfc3339(e).ok())
    {
        let left = exp.with_timezone(&chrono::Utc) - chrono::Utc::now();
        if r.ok && left < chrono::Duration::days(warn_days) {
            r.expiring_soon = true;
            r.notes.push(format!(
                "expires in {} day(s): roll it (dashboard → API Tokens → Roll) and update where it is stored",
                left.num_days()
            ));
        }
    }
    if !r.ok {
        r.notes
            .push(format!("the token is {}: replace it", status.status));
    }
    Ok(r)
}

pub async fn run(global: &GlobalArgs, args: TokenArgs) -> anyhow::Result<ExitStatus> {
    match args.command {
        TokenCommand::Check(a) => check(global, a).await,
        TokenCommand::Rotate(a) => rotate(global, a).await,
    }
}

async fn check(global: &GlobalArgs, args: CheckArgs) -> anyhow::Result<ExitStatus> {
    let runner = sv_cli::context::runner();
    // Resolved before any check, so missing GitHub credentials fail fast (exit 2).
    let github = if args.issue {
        Some(github_for_issue(&runner)?)
    } else {
        None
    };
    let mut tokens = Vec::new();
    for var in &args.token_vars {
        let value = if var == sv_cli::env_vars::CLOUDFLARE_API_TOKEN {
            args.cloudflare
                .api_token
                .as_ref()
                .map(|t| t.expose_secret().to_owned())
        } else {
            sv_cli::env_vars::process_env(var)
        };
        let Some(value) = value.filter(|v| !v.is_empty()) else {
            return Err(input_error(anyhow::anyhow!(
                "{var} is not set: export it (or pass --token-var NAME for each variable that holds a token)"
            )));
        };
        runner.mask(&value)?;
        tokens.push(
            check_one(
                var,
                SecretString::from(value),
                &args.cloudflare,
                args.warn_days,
            )
            .await?,
        );
    }
    let failed = tokens
        .iter()
        .any(|t| !t.ok || (args.fail_expiring && t.expiring_soon));
    for t in &tokens {
        let which = t.id.as_deref().map_or_else(
            || t.variable.clone(),
            |id| format!("{} (token {id})", t.variable),
        );
        let annotation = if !t.ok {
            sv_actions::Annotation::error(format!(
                "{which} is {}: replace it",
                t.status.as_deref().unwrap_or("invalid")
            ))
        } else if t.expiring_soon {
            let level = if args.fail_expiring {
                sv_actions::Annotation::error
            } else {
                sv_actions::Annotation::warning
            };
            level(format!(
                "{which} expires on {}: roll it (sv-onboard token rotate)",
                t.expires_on.as_deref().unwrap_or("?")
            ))
        } else {
            continue;
        };
        runner.annotate(&annotation.title("sv-onboard token check"))?;
    }
    let mut report = CheckReport {
        tokens,
        issue: None,
    };
    if let Some((gh, run_url)) = &github {
        report.issue = Some(keep_issue(gh, run_url.as_deref(), &report, failed).await?);
    }
    runner.append_summary(&report.markdown())?;
    global.output().print(&report)?;
    Ok(if failed {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

/// The GitHub client `--issue` writes with, and this run's URL; exit 2 without credentials.
fn github_for_issue(
    runner: &sv_actions::Runner,
) -> anyhow::Result<(sv_github::GitHub, Option<String>)> {
    let ctx = sv_cli::context::github(runner)?;
    let gh = ctx.client().map_err(|e| {
        input_error(anyhow::anyhow!(
            "--issue needs GITHUB_TOKEN and GITHUB_REPOSITORY: {e}"
        ))
    })?;
    Ok((gh, ctx.run_url))
}

/// Opens (or updates) the one token-check issue when the check fails; closes it when it
/// passes. Returns what it did, for the report.
async fn keep_issue(
    gh: &sv_github::GitHub,
    run_url: Option<&str>,
    report: &CheckReport,
    failed: bool,
) -> anyhow::Result<String> {
    let marker = sv_github::Marker::new("token-check", "cloudflare")?;
    if !failed {
        let closed = gh
            .close_issue_by_marker(&marker, Some("The token check passes again."))
            .await?;
        return Ok(if closed.is_empty() {
            "none open".into()
        } else {
            format!(
                "closed {}",
                closed
                    .iter()
                    .map(|n| format!("#{n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        });
    }
    let which: Vec<String> = report
        .tokens
        .iter()
        .filter(|t| !t.ok || t.expiring_soon)
        .map(|t| t.variable.clone())
        .collect();
    let mut body = report.markdown();
    if let Some(url) = run_url {
        body.push_str(&format!("\nRun: {url}\n"));
    }
    let outcome = gh
        .upsert_issue(
            &marker,
            &format!("Cloudflare API token needs attention: {}", which.join(", ")),
            &body,
            &[],
            &[],
        )
        .await?;
    let action = match outcome.action {
        sv_github::IssueAction::Opened => "opened",
        sv_github::IssueAction::Reopened => "reopened",
        sv_github::IssueAction::Unchanged => "unchanged",
        _ => "updated",
    };
    Ok(format!("{action} #{} {}", outcome.number, outcome.url))
}

/// What `token rotate` did (or would do). Never holds the token value.
#[derive(Debug, Serialize)]
pub struct RotateReport {
    pub token_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_name: Option<String>,
    pub repository: String,
    pub secret: String,
    /// Whether the secret existed before.
    pub secret_existed: bool,
    pub dry_run: bool,
    /// `rolled`, or `would roll` for a dry run.
    pub token_action: String,
    /// `created` / `updated`, or `would create` / `would update`.
    pub secret_action: String,
    pub notes: Vec<String>,
}

impl Render for RotateReport {
    fn human(&self, s: &Styles) -> String {
        let name = self
            .token_name
            .as_deref()
            .map(|n| format!(" \"{n}\""))
            .unwrap_or_default();
        let head = if self.dry_run {
            s.yellow("Dry run: nothing rolled, nothing written")
        } else {
            s.green("Token rotated")
        };
        let mut out = format!(
            "{head}\n  token     {}{name}: {}\n  secret    {} in {}: {}\n",
            self.token_id, self.token_action, self.secret, self.repository, self.secret_action
        );
        for n in &self.notes {
            out.push_str(&format!("  {} {n}\n", s.yellow("!")));
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!(
            "### sv-onboard token rotate{}\n\n| token | action | secret | repository | action |\n|---|---|---|---|---|\n| `{}` | {} | `{}` | {} | {} |\n",
            if self.dry_run { " (dry run)" } else { "" },
            self.token_id,
            self.token_action,
            self.secret,
            markdown_escape(&self.repository),
            self.secret_action
        );
        for n in &self.notes {
            out.push_str(&format!("\n> {}\n", markdown_escape(n)));
        }
        out
    }
}

fn audit_rotate(
    global: &GlobalArgs,
    target: &str,
    result: sv_audit::Outcome,
    detail: String,
) -> anyhow::Result<()> {
    let root = global
        .config
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| std::path::Path::new("."));
    sv_audit::AuditLog::new(sv_audit::AuditLog::default_path(root))
        .append(&sv_audit::AuditRecord {
            time: chrono::Utc::now(),
            actor: sv_audit::Actor::from_env(sv_cli::env_vars::process_env).0,
            tool: "sv-onboard".to_owned(),
            environment: None,
            operation: "token.rotate".to_owned(),
            target: target.to_owned(),
            result,
            detail: Some(detail),
            run_url: sv_cli::env_vars::run_url(sv_cli::env_vars::process_env),
        })
        .map_err(|e| anyhow::anyhow!("cannot append to the audit trail: {e}"))
}

/// GitHub's message when the token may not read or write Actions secrets.
fn github_access_hint(repo: &str) -> String {
    format!(
        "GITHUB_TOKEN needs the \"Secrets: read and write\" repository permission on {repo} \
         (a fine-grained personal access token or a GitHub App token; the workflow's own \
         GITHUB_TOKEN can never write secrets)"
    )
}

async fn rotate(global: &GlobalArgs, args: RotateArgs) -> anyhow::Result<ExitStatus> {
    let runner = sv_cli::context::runner();
    sv_github::validate_secret_name(&args.secret).map_err(input_error)?;
    let client = sv_cli::context::cloudflare(&args.cloudflare, &runner)?;
    let ctx = sv_cli::context::github(&runner)?;
    let Some(gh_token) = ctx.token.clone() else {
        return Err(input_error(anyhow::anyhow!(
            "GITHUB_TOKEN is not set: export a token that can write Actions secrets; {}",
            github_access_hint("the repository")
        )));
    };
    let repo = match (&args.repo, &ctx.repository) {
        (Some(r), _) => sv_github::RepoRef::parse(r).map_err(input_error)?,
        (None, Some(r)) => r.clone(),
        (None, None) => {
            return Err(input_error(anyhow::anyhow!(
                "no repository: pass --repo OWNER/NAME or set GITHUB_REPOSITORY"
            )));
        }
    };
    let repo_name = format!("{}/{}", repo.owner, repo.name);
    let gh = sv_github::GitHub::new(ctx.api_url.clone(), gh_token, repo).map_err(input_error)?;

    let token_id = match &args.token_id {
        Some(id) => id.clone(),
        None => {
            client
                .user()
                .verify_any()
                .await
                .map_err(|e| anyhow::anyhow!("CLOUDFLARE_API_TOKEN does not verify: {e}"))?
                .1
                .id
        }
    };
    let token_name = match client.tokens().get(&token_id).await {
        Ok(d) => Some(d.name),
        Err(e) if args.token_id.is_some() => {
            return Err(anyhow::anyhow!(
                "cannot read token {token_id} (GET /user/tokens/{token_id}): {e}; nothing was rolled"
            ));
        }
        Err(_) => None,
    };

    // Pre-flight on GitHub: reading the secrets key and list proves the repository exists and
    // the token has at least read access, before anything irreversible happens.
    let preflight = async {
        gh.secrets_public_key().await?;
        gh.list_secrets().await
    };
    let existing = match preflight.await {
        Ok(list) => list,
        Err(e) => {
            let hint = if e.category() == sv_github::ErrorCategory::Authentication {
                format!("; {}", github_access_hint(&repo_name))
            } else {
                String::new()
            };
            return Err(anyhow::anyhow!(
                "cannot access the Actions secrets of {repo_name}: {e}{hint}. Nothing changed: \
                 token {token_id} was not rolled"
            ));
        }
    };
    let existed = existing
        .iter()
        .any(|s| s.name.eq_ignore_ascii_case(&args.secret));
    let target = format!("token {token_id} -> {repo_name} secret {}", args.secret);
    let mut notes = Vec::new();

    if args.dry_run {
        notes.push(
            "GitHub read access checked; write permission is only known when writing".to_owned(),
        );
        audit_rotate(
            global,
            &target,
            sv_audit::Outcome::DryRun,
            format!("token id {token_id}, secret {}", args.secret),
        )?;
        let report = RotateReport {
            token_id,
            token_name,
            repository: repo_name,
            secret: args.secret,
            secret_existed: existed,
            dry_run: true,
            token_action: "would roll".into(),
            secret_action: if existed {
                "would update"
            } else {
                "would create"
            }
            .into(),
            notes,
        };
        runner.append_summary(&report.markdown())?;
        global.output().print(&report)?;
        return Ok(ExitStatus::Success);
    }

    let new_value = client.tokens().roll(&token_id).await.map_err(|e| {
        anyhow::anyhow!(
            "rolling token {token_id} failed: {e}; nothing changed (the token needs \"API Tokens Write\")"
        )
    })?;
    // Before anything else could print it.
    runner.mask(new_value.expose_secret())?;

    let action = match gh.put_secret(&args.secret, &new_value).await {
        Ok(a) => a,
        Err(e) => {
            let detail = format!(
                "token id {token_id} rolled, secret {} NOT updated: {e}",
                args.secret
            );
            audit_rotate(global, &target, sv_audit::Outcome::Failed, detail)?;
            let first = if e.category() == sv_github::ErrorCategory::Authentication {
                format!(
                    "give GITHUB_TOKEN the \"Secrets: read and write\" permission on {repo_name} \
                     (a fine-grained personal access token or a GitHub App token; the \
                     workflow's own GITHUB_TOKEN can never write secrets)"
                )
            } else {
                "fix the cause above".to_owned()
            };
            let secret_state = if existed {
                "still holds the old, now invalid, value"
            } else {
                "was not created"
            };
            return Err(anyhow::anyhow!(
                "token {token_id} WAS rolled: its old value no longer works, and the new value \
                 was NOT stored: writing secret {secret} in {repo_name} failed: {e}. The secret \
                 {secret} {secret_state}, and the new value is not kept anywhere. To recover: {first}, then run \
                 `sv-onboard token rotate --token-id {token_id} --secret {secret}` again with a \
                 Cloudflare token that still works and has \"API Tokens Write\" — or roll the \
                 token in the Cloudflare dashboard (My Profile → API Tokens → Roll) and paste the \
                 new value into the repository's Settings → Secrets and variables → Actions → \
                 {secret}.",
                secret = args.secret
            ));
        }
    };
    let secret_action = match action {
        sv_github::SecretAction::Created => "created",
        sv_github::SecretAction::Updated => "updated",
    };
    audit_rotate(
        global,
        &target,
        sv_audit::Outcome::Succeeded,
        format!(
            "token id {token_id} rolled, secret {} {secret_action}",
            args.secret
        ),
    )?;
    if args.token_id.is_none() {
        notes.push(
            "the CLOUDFLARE_API_TOKEN this command ran with is now invalid: update any other place \
             that holds it (local .env, other repositories)"
                .to_owned(),
        );
    }
    let report = RotateReport {
        token_id,
        token_name,
        repository: repo_name,
        secret: args.secret,
        secret_existed: existed,
        dry_run: false,
        token_action: "rolled".into(),
        secret_action: secret_action.into(),
        notes,
    };
    runner.append_summary(&report.markdown())?;
    global.output().print(&report)?;
    Ok(ExitStatus::Success)
}
