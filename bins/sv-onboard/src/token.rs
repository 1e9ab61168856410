//! `sv-onboard token check`: for each configured token (the variables named by
//! `--token-var`, default `CLOUDFLARE_API_TOKEN`): valid or not, expiry, status, policies
//! (effect, permission groups, resources), issued/modified, and last use where the API
//! reports it. Exit 1 when a token is invalid, disabled or expired.
//!
//! `token rotate` is not here: rolling a token (`PUT /user/tokens/{id}/value`) is only
//! useful together with updating the GitHub Actions secret that holds it, and the GitHub
//! side (the repository secrets public key and `PUT …/actions/secrets/{name}`) is not served
//! by sv-emulator, so it could not be tested.

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
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct CheckReport {
    pub tokens: Vec<TokenReport>,
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
    ("3030687196b94b638145a3953da2b699", "User Details Read"),
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
    }
}

async fn check(global: &GlobalArgs, args: CheckArgs) -> anyhow::Result<ExitStatus> {
    let runner = sv_cli::context::runner();
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
    let failed = tokens.iter().any(|t| !t.ok);
    let report = CheckReport { tokens };
    runner.append_summary(&report.markdown())?;
    global.output().print(&report)?;
    Ok(if failed {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}
