//! `sv-onboard doctor`: is this machine and checkout ready? Fresh-clone detection; Node and
//! npm against `engines` and `.nvmrc`; wrangler and its version; git; the Cloudflare token
//! (valid, expiry) and its scope (can it create the developer's resources, could it also
//! change production); the workspace layout; sv.yaml and the wrangler configs parse.
//! Each finding carries a fix to copy. Exit 1 when something required is missing.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use serde::Serialize;
use sv_cli::{CloudflareArgs, ExitStatus, GlobalArgs};
use sv_cloudflare::tokens::TokenPolicy;
use sv_report::{Render, Styles, markdown_escape};

/// wrangler.jsonc support and `.dev.vars.<env>` arrived in 3.91.
pub const MIN_WRANGLER: Version = Version(3, 91, 0);

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Developer whose `dev-NAME-` resources the token must be able to create
    #[arg(long, env = "SV_DEVELOPER", value_name = "NAME")]
    pub developer: Option<String>,
    #[command(flatten)]
    pub cloudflare: CloudflareArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Ok,
    Info,
    Warning,
    /// Something required is missing or broken: doctor exits 1.
    Error,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub id: String,
    pub level: Level,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// A command or step to copy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

fn finding(id: &str, level: Level, title: impl Into<String>) -> Finding {
    Finding {
        id: id.to_owned(),
        level,
        title: title.into(),
        detail: None,
        fix: None,
    }
}

impl Finding {
    fn detail(mut self, d: impl Into<String>) -> Self {
        self.detail = Some(d.into());
        self
    }
    fn fix(mut self, f: impl Into<String>) -> Self {
        self.fix = Some(f.into());
        self
    }
}

#[derive(Debug, Serialize)]
pub struct DoctorReport {
    pub fresh_clone: bool,
    pub errors: usize,
    pub warnings: usize,
    pub findings: Vec<Finding>,
}

impl Render for DoctorReport {
    fn human(&self, s: &Styles) -> String {
        let mut out = String::new();
        let head = match (self.errors, self.warnings) {
            (0, 0) => "sv-onboard doctor: all good".to_owned(),
            (e, w) => format!("sv-onboard doctor: {e} problem(s), {w} warning(s)"),
        };
        out.push_str(&s.bold(&head));
        out.push('\n');
        for f in &self.findings {
            let sym = match f.level {
                Level::Ok => s.green("✓"),
                Level::Info => s.cyan("i"),
                Level::Warning => s.yellow("!"),
                Level::Error => s.red("✗"),
            };
            out.push_str(&format!("  {sym} {}\n", f.title));
            if let Some(d) = &f.detail {
                for l in d.lines() {
                    out.push_str(&format!("      {l}\n"));
                }
            }
            if let Some(fix) = &f.fix {
                out.push_str(&format!("      fix: {fix}\n"));
            }
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = String::from(
            "### sv-onboard doctor\n\n| | check | details | fix |\n|---|---|---|---|\n",
        );
        for f in &self.findings {
            let sym = match f.level {
                Level::Ok => "✅",
                Level::Info => "ℹ️",
                Level::Warning => "⚠️",
                Level::Error => "❌",
            };
            out.push_str(&format!(
                "| {sym} | {} | {} | {} |\n",
                markdown_escape(&f.title),
                f.detail.as_deref().map(markdown_escape).unwrap_or_default(),
                f.fix
                    .as_deref()
                    .map(|x| format!("`{}`", x.replace('`', "'")))
                    .unwrap_or_default()
            ));
        }
        out
    }
}

/// A `major.minor.patch` version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Version(pub u64, pub u64, pub u64);

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// The first `X[.Y[.Z]]` in `text` (`v22.3.0`, ` ⛅️ wrangler 4.12.0`, `git version 2.43.0`).
pub fn parse_version(text: &str) -> Option<Version> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit()
            && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'v')
        {
            let rest = &text[i..];
            let end = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(rest.len());
            let nums: Vec<u64> = rest[..end]
                .split('.')
                .filter(|p| !p.is_empty())
                .take(3)
                .map_while(|p| p.parse().ok())
                .collect();
            if !nums.is_empty() {
                return Some(Version(
                    nums[0],
                    nums.get(1).copied().unwrap_or(0),
                    nums.get(2).copied().unwrap_or(0),
                ));
            }
            i += end.max(1);
        } else {
            i += 1;
        }
    }
    None
}

/// The lowest version an npm `engines` range accepts (`>=20`, `^20.11`, `20.x`, `>=18 || >=20`).
/// `None` for ranges this does not understand (then nothing is enforced).
pub fn range_minimum(range: &str) -> Option<Version> {
    range
        .split("||")
        .filter_map(|alt| {
            let first = alt.split_whitespace().next()?;
            let v = first.trim_start_matches(['>', '=', '^', '~', 'v']);
            if first.starts_with('<') {
                return None;
            }
            parse_version(v)
        })
        .min()
}

async fn tool_version(tool: &Path) -> Result<String, String> {
    let mut cmd = tokio::process::Command::new(tool);
    cmd.arg("--version")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    match tokio::time::timeout(Duration::from_secs(20), cmd.output()).await {
        Err(_) => Err("did not answer `--version` within 20 s".into()),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => Err("not found".into()),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(out)) if out.status.success() => Ok(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )),
        Ok(Ok(out)) => Err(format!("`--version` exited with {}", out.status)),
    }
}

/// `name` on PATH (`which`), else `None`.
fn on_path(name: &str, path_var: Option<&str>) -> Option<PathBuf> {
    std::env::split_paths(path_var?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

struct Tool<'a> {
    id: &'a str,
    label: &'a str,
    min: Option<(Version, String)>,
    install: &'a str,
}

async fn check_tool(tool: &Tool<'_>, exe: Option<PathBuf>, found_where: &str) -> Finding {
    let Some(exe) = exe else {
        return finding(
            tool.id,
            Level::Error,
            format!("{}: not found on PATH", tool.label),
        )
        .fix(tool.install);
    };
    match tool_version(&exe).await {
        Err(e) => finding(tool.id, Level::Error, format!("{}: {e}", tool.label))
            .detail(exe.display().to_string())
            .fix(tool.install),
        Ok(text) => match parse_version(&text) {
            None => finding(
                tool.id,
                Level::Warning,
                format!("{}: version unknown", tool.label),
            )
            .detail(format!(
                "`{} --version` printed {:?}",
                exe.display(),
                text.trim()
            )),
            Some(v) => match &tool.min {
                Some((min, why)) if v < *min => finding(
                    tool.id,
                    Level::Error,
                    format!("{} {v} is too old: {why} needs {min} or newer", tool.label),
                )
                .fix(tool.install),
                _ => finding(
                    tool.id,
                    Level::Ok,
                    format!("{} {v}{found_where}", tool.label),
                ),
            },
        },
    }
}

fn read_json(path: &Path) -> Option<serde_json::Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

pub async fn run(global: &GlobalArgs, args: DoctorArgs) -> anyhow::Result<ExitStatus> {
    let root = global
        .config
        .parent()
        .map(Path::to_path_buf)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("."));
    let path_var = sv_cli::env_vars::process_env("PATH");
    let mut findings = Vec::new();

    // Fresh clone: nothing installed, nobody set up.
    let installed = root.join("node_modules").is_dir();
    let set_up = !crate::record::all(&root).is_empty();
    let fresh = !installed && !set_up;
    if fresh {
        findings.push(
            finding(
                "fresh-clone",
                Level::Info,
                "fresh clone: dependencies not installed, no developer environment yet",
            )
            .fix("npm install && npm run setup:dev"),
        );
    } else if !set_up {
        findings.push(
            finding(
                "setup",
                Level::Info,
                "no developer environment set up in this checkout",
            )
            .fix("npm run setup:dev   # or: sv-onboard setup --developer <you>"),
        );
    }

    // Tools.
    let package = read_json(&root.join("package.json"));
    let engines = |k: &str| {
        package
            .as_ref()
            .and_then(|p| p["engines"][k].as_str().map(str::to_owned))
    };
    let node_min = engines("node")
        .and_then(|r| range_minimum(&r).map(|v| (v, format!("package.json engines.node `{r}`"))));
    let nvmrc = std::fs::read_to_string(root.join(".nvmrc")).ok();
    let nvm_min = nvmrc
        .as_deref()
        .and_then(parse_version)
        .map(|v| (v, ".nvmrc".to_owned()));
    let node_need = match (node_min, nvm_min.clone()) {
        (Some(a), Some(b)) => Some(if a.0 >= b.0 { a } else { b }),
        (a, b) => a.or(b),
    };
    let node_install = match &node_need {
        Some((v, _)) => format!(
            "nvm install {} && nvm use {}   # or https://nodejs.org/",
            v.0, v.0
        ),
        None => "nvm install --lts   # or https://nodejs.org/".to_owned(),
    };
    findings.push(
        check_tool(
            &Tool {
                id: "node",
                label: "node",
                min: node_need,
                install: &node_install,
            },
            on_path("node", path_var.as_deref()),
            "",
        )
        .await,
    );
    let npm_min = engines("npm")
        .and_then(|r| range_minimum(&r).map(|v| (v, format!("package.json engines.npm `{r}`"))));
    findings.push(
        check_tool(
            &Tool {
                id: "npm",
                label: "npm",
                min: npm_min,
                install: "npm comes with Node.js: install Node (https://nodejs.org/), or `npm install -g npm@latest`",
            },
            on_path("npm", path_var.as_deref()),
            "",
        )
        .await,
    );
    let local_wrangler = root.join("node_modules").join(".bin").join("wrangler");
    let (wrangler, where_) = if local_wrangler.is_file() {
        (Some(local_wrangler), " (node_modules/.bin)")
    } else {
        (on_path("wrangler", path_var.as_deref()), "")
    };
    findings.push(
        check_tool(
            &Tool {
                id: "wrangler",
                label: "wrangler",
                min: Some((
                    MIN_WRANGLER,
                    "wrangler.jsonc and per-environment .dev.vars".to_owned(),
                )),
                install: "npm install --save-dev wrangler@latest",
            },
            wrangler,
            where_,
        )
        .await,
    );
    findings.push(
        check_tool(
            &Tool {
                id: "git",
                label: "git",
                min: None,
                install: "install git: https://git-scm.com/downloads (apt-get install git, brew install git)",
            },
            on_path("git", path_var.as_deref()),
            "",
        )
        .await,
    );

    // Workspace layout.
    match sv_workspaces::read(&root) {
        Ok(graph) => {
            let names: Vec<String> = graph.waves().map_or_else(
                |_| Vec::new(),
                |w| w.into_iter().flatten().collect(),
            );
            findings.push(finding(
                "workspaces",
                Level::Ok,
                format!("npm workspaces: {}", names.join(", ")),
            ));
        }
        Err(e) => findings.push(
            finding("workspaces", Level::Error, "npm workspaces cannot be read")
                .detail(e.to_string())
                .fix("run from the app's root (where package.json declares \"workspaces\"), or pass --config PATH/sv.yaml"),
        ),
    }

    // Config.
    let config = if global.config.exists() {
        match sv_config::load(&global.config, &sv_config::ProcessEnv) {
            Ok(c) => {
                findings.push(finding(
                    "config",
                    Level::Ok,
                    format!(
                        "{} and {} wrangler config(s) parse",
                        global.config.display(),
                        c.wrangler.len()
                    ),
                ));
                for (name, ws) in &c.config.workspaces {
                    let dir = c.resolve_path(ws.path.as_deref().unwrap_or(Path::new(name)));
                    if !dir.join("package.json").is_file() {
                        findings.push(
                            finding(
                                "workspaces",
                                Level::Warning,
                                format!(
                                    "workspace `{name}` of sv.yaml has no package.json at {}",
                                    dir.display()
                                ),
                            )
                            .fix(format!(
                                "set `workspaces.{name}.path` in sv.yaml to its directory"
                            )),
                        );
                    }
                }
                Some(c)
            }
            Err(e) => {
                findings.push(
                    finding(
                        "config",
                        Level::Error,
                        format!("{} does not load", global.config.display()),
                    )
                    .detail(e.to_string())
                    .fix(format!(
                        "sv-onboard validate --config {}",
                        global.config.display()
                    )),
                );
                None
            }
        }
    } else {
        findings.push(
            finding("config", Level::Error, format!("{} not found", global.config.display()))
                .fix("run from the app's root, or pass --config PATH/sv.yaml (sv.example.yaml shows the shape)"),
        );
        None
    };

    // Token.
    findings.extend(token_findings(&args, config.as_ref()).await);

    let errors = findings.iter().filter(|f| f.level == Level::Error).count();
    let warnings = findings
        .iter()
        .filter(|f| f.level == Level::Warning)
        .count();
    let report = DoctorReport {
        fresh_clone: fresh,
        errors,
        warnings,
        findings,
    };
    let runner = sv_cli::context::runner();
    runner.append_summary(&report.markdown())?;
    global.output().print(&report)?;
    Ok(if errors > 0 {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

const TOKEN_FIX: &str = "create a token (dashboard → My Profile → API Tokens → Create Token) with Account · Workers KV Storage, D1 and Workers R2 Storage: Edit, then `export CLOUDFLARE_API_TOKEN=...`";

async fn token_findings(
    args: &DoctorArgs,
    config: Option<&sv_config::LoadedConfig>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    if args.cloudflare.api_token.is_none() {
        out.push(finding("token", Level::Error, "CLOUDFLARE_API_TOKEN is not set").fix(TOKEN_FIX));
        return out;
    }
    let runner = sv_cli::context::runner();
    let client = match sv_cli::context::cloudflare(&args.cloudflare, &runner) {
        Ok(c) => c,
        Err(e) => {
            out.push(
                finding("token", Level::Error, "cannot build a Cloudflare client")
                    .detail(format!("{e:#}"))
                    .fix(TOKEN_FIX),
            );
            return out;
        }
    };
    let status = match client.user().verify_any().await {
        Ok((_, s)) => s,
        Err(e) => {
            out.push(
                finding("token", Level::Error, "the token does not verify")
                    .detail(e.to_string())
                    .fix(TOKEN_FIX),
            );
            return out;
        }
    };
    if !status.is_active() {
        out.push(
            finding(
                "token",
                Level::Error,
                format!("the token is {}", status.status),
            )
            .fix(TOKEN_FIX),
        );
        return out;
    }
    let mut f = finding("token", Level::Ok, format!("token {} is active", status.id));
    if let Some(exp) = &status.expires_on {
        let soon = chrono::DateTime::parse_from_rfc3339(exp)
            .ok()
            .is_some_and(|e| {
                e.with_timezone(&chrono::Utc) - chrono::Utc::now() < chrono::Duration::days(7)
            });
        f.title = format!("token {} is active until {exp}", status.id);
        if soon {
            f.level = Level::Warning;
            f = f.fix("roll or replace it before it expires (dashboard → API Tokens → Roll)");
        }
    }
    out.push(f);

    // Scope, from the token's policies.
    let details = match client.tokens().get(&status.id).await {
        Ok(d) => d,
        Err(e) => {
            out.push(
                finding("token-scope", Level::Warning, "cannot read the token's policies: its scope is unknown")
                    .detail(format!("GET /user/tokens/{}: {e}", status.id))
                    .fix("check the token's permissions in the dashboard (API Tokens → the token → Edit), or add \"API Tokens: Read\" so doctor can check them"),
            );
            return out;
        }
    };
    let Some(config) = config else {
        return out;
    };
    let dev_env = args
        .developer
        .as_deref()
        .and_then(|d| config.developer_environment(d).ok());
    let dev_account = dev_env
        .as_ref()
        .and_then(|e| e.account_id.clone())
        .or_else(|| {
            config
                .environment(config.base_environment())
                .ok()
                .and_then(|e| e.account_id.clone())
        })
        .or_else(|| args.cloudflare.account_id.clone())
        .unwrap_or_default();
    let what = match &dev_env {
        Some(e) => format!("{}* resources", e.prefix),
        None => "developer resources".to_owned(),
    };
    let can = writable(&details.policies, &dev_account);
    let missing: Vec<&str> = KINDS
        .iter()
        .filter(|(k, _)| !can.contains(k))
        .map(|(_, l)| *l)
        .collect();
    if missing.is_empty() {
        out.push(finding(
            "token-scope",
            Level::Ok,
            format!("the token can create {what} (KV, D1, R2 write on account {dev_account})"),
        ));
    } else {
        out.push(
            finding(
                "token-scope",
                Level::Error,
                format!(
                    "the token cannot create {what}: no {} on account {dev_account}",
                    missing.join(", ")
                ),
            )
            .fix(format!(
                "edit the token: add Account · {} for account {dev_account}",
                missing.join(", ")
            )),
        );
    }
    for prod in config
        .environments()
        .filter(|e| e.protect || e.name == "production")
    {
        let account = prod
            .account_id
            .clone()
            .unwrap_or_else(|| dev_account.clone());
        let prod_can = writable(&details.policies, &account);
        if !prod_can.is_empty() {
            let kinds: Vec<&str> = KINDS
                .iter()
                .filter(|(k, _)| prod_can.contains(k))
                .map(|(_, l)| *l)
                .collect();
            out.push(
                finding(
                    "token-production",
                    Level::Warning,
                    format!("WARNING: this token could also change production (`{}`): {} on account {account}", prod.name, kinds.join(", ")),
                )
                .detail("Cloudflare scopes token permissions by account, not by resource name: a token that can create dev-NAME-* resources in production's account can also write or delete production's KV, D1 and R2.")
                .fix("keep development in its own Cloudflare account (set `account_id` on the production environment in sv.yaml and give this token only the development account)"),
            );
        }
    }
    out
}

const KINDS: [(&str, &str); 3] = [
    ("kv", "Workers KV Storage Write"),
    ("d1", "D1 Write"),
    ("r2", "Workers R2 Storage Write"),
];

const GROUP_IDS: [(&str, &str); 3] = [
    ("kv", "f7f0eda5697f475c90846e879bab8666"),
    ("d1", "09b2857d1c31407795e75e3fed8617a1"),
    ("r2", "bf7481a1826f439697cb59a20b22293e"),
];

fn covers(policy: &TokenPolicy, account: &str) -> bool {
    let exact = format!("com.cloudflare.api.account.{account}");
    policy.resources.iter().any(|(k, v)| {
        (k == "com.cloudflare.api.account.*" || (!account.is_empty() && *k == exact))
            && (v == "*" || v.is_object())
    })
}

/// Which data-store kinds (`kv`, `d1`, `r2`) the policies let the token write in `account`
/// (a deny wins over an allow).
pub fn writable(policies: &[TokenPolicy], account: &str) -> BTreeSet<&'static str> {
    let kinds_of = |p: &TokenPolicy| -> BTreeSet<&'static str> {
        KINDS
            .iter()
            .filter(|(kind, name)| {
                p.permission_groups.iter().any(|g| {
                    g.name.as_deref() == Some(*name)
                        || GROUP_IDS.iter().any(|(k, id)| k == kind && g.id == *id)
                })
            })
            .map(|(k, _)| *k)
            .collect()
    };
    let mut allowed = BTreeSet::new();
    let mut denied = BTreeSet::new();
    for p in policies.iter().filter(|p| covers(p, account)) {
        let k = kinds_of(p);
        if p.effect == "deny" {
            denied.extend(k);
        } else if p.effect == "allow" {
            allowed.extend(k);
        }
    }
    allowed.difference(&denied).copied().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_ranges() {
        assert_eq!(parse_version("v22.3.0\n"), Some(Version(22, 3, 0)));
        assert_eq!(
            parse_version(" ⛅️ wrangler 4.12.1\n"),
            Some(Version(4, 12, 1))
        );
        assert_eq!(parse_version("git version 2.43.0"), Some(Version(2, 43, 0)));
        assert_eq!(parse_version("10"), Some(Version(10, 0, 0)));
        assert_eq!(parse_version("lts/*"), None);
        assert_eq!(range_minimum(">=20"), Some(Version(20, 0, 0)));
        assert_eq!(range_minimum("^20.11.1"), Some(Version(20, 11, 1)));
        assert_eq!(range_minimum(">=18 <21 || >=22"), Some(Version(18, 0, 0)));
        assert_eq!(range_minimum("20.x"), Some(Version(20, 0, 0)));
        assert_eq!(range_minimum("*"), None);
    }

    fn policy(effect: &str, resource: &str, groups: &[&str]) -> TokenPolicy {
        serde_json::from_value(serde_json::json!({
            "effect": effect,
            "resources": {resource: "*"},
            "permission_groups": groups.iter().map(|g| serde_json::json!({"id": g})).collect::<Vec<_>>(),
        }))
        .unwrap()
    }

    #[test]
    fn scope_by_account_with_deny_winning() {
        let kv = "f7f0eda5697f475c90846e879bab8666";
        let d1 = "09b2857d1c31407795e75e3fed8617a1";
        let p = vec![
            policy("allow", "com.cloudflare.api.account.aaa", &[kv, d1]),
            policy("deny", "com.cloudflare.api.account.*", &[d1]),
        ];
        assert_eq!(writable(&p, "aaa").into_iter().collect::<Vec<_>>(), ["kv"]);
        assert!(writable(&p, "bbb").is_empty());
    }
}
