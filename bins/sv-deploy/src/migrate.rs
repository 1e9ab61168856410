//! D1 migrations as part of a release: the environment's pending migrations are applied
//! (through sv-infra's one migration runner, wrangler's `d1_migrations` table) after the
//! builds and before the new version is uploaded, so no traffic ever reaches it without
//! its schema. A migration whose leading comment lines include
//! `-- sv: not-backward-compatible` is one the previous code cannot run against; a
//! rollback to a version made before such a migration was applied is refused unless
//! overridden.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use sv_config::{Environment, ResourceKind, ResourceSpec};

/// The marker, in a comment line at the top of a migration file.
pub const INCOMPATIBLE_MARKER: &str = "sv: not-backward-compatible";

/// One migration a release applied (or, in a dry run, would apply).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Migration {
    /// D1 database name in the account (prefixed for the environment).
    pub database: String,
    /// File name in the migrations directory (wrangler's name in `d1_migrations`).
    pub name: String,
    /// Marked `-- sv: not-backward-compatible`: earlier versions cannot run against it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub incompatible: bool,
}

/// A D1 database of the environment with a migrations directory.
#[derive(Debug, Clone)]
pub struct Database {
    pub name: String,
    pub dir: PathBuf,
}

/// The environment's D1 databases that declare `migrations:` (sv.yaml, relative to `root`).
pub fn databases(env: &Environment, root: &Path) -> Vec<Database> {
    env.resources_of(ResourceKind::D1)
        .filter_map(|r| match &r.spec {
            ResourceSpec::D1(d) => Some(Database {
                name: r.name.clone(),
                dir: root.join(d.migrations.as_ref()?),
            }),
            _ => None,
        })
        .collect()
}

/// Whether the SQL's leading comment lines (before the first statement) carry the marker.
pub fn is_incompatible(sql: &str) -> bool {
    sql.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take_while(|l| l.starts_with("--"))
        .any(|l| {
            let text = l.trim_start_matches('-').trim().to_ascii_lowercase();
            text.strip_prefix("sv:")
                .is_some_and(|rest| rest.trim_start().starts_with("not-backward-compatible"))
        })
}

fn marked(db: &Database, name: &str) -> anyhow::Result<bool> {
    let sql = sv_infra::migrations::read(&db.dir, name)?;
    Ok(is_incompatible(&sql))
}

async fn uuid(client: &sv_cloudflare::Client, name: &str) -> anyhow::Result<String> {
    match client.d1().get(name).await {
        Ok(db) => Ok(db.uuid),
        Err(e) if e.is_not_found() => Err(sv_cli::input_error(anyhow::anyhow!(
            "D1 database `{name}` does not exist in the account: run `sv-plan apply` for this environment first"
        ))),
        Err(e) => Err(e).with_context(|| format!("looking up D1 database `{name}`")),
    }
}

/// Pending migrations of one database, in the order they will run.
#[derive(Debug, Clone)]
pub struct Pending {
    pub database: Database,
    pub uuid: String,
    pub migrations: Vec<Migration>,
}

/// What each database has not applied yet.
///
/// # Errors
/// A database missing from the account (exit 2), an unreadable directory, API errors.
pub async fn pending(
    client: &sv_cloudflare::Client,
    databases: &[Database],
) -> anyhow::Result<Vec<Pending>> {
    let mut out = Vec::new();
    for db in databases {
        let uuid = uuid(client, &db.name).await?;
        let files = sv_infra::migrations::list(&db.dir)?;
        let applied = sv_infra::inventory::applied_migrations(client, &uuid, &db.name).await?;
        let mut migrations = Vec::new();
        for name in files.into_iter().filter(|f| !applied.contains(f)) {
            migrations.push(Migration {
                database: db.name.clone(),
                incompatible: marked(db, &name)?,
                name,
            });
        }
        out.push(Pending {
            database: db.clone(),
            uuid,
            migrations,
        });
    }
    Ok(out)
}

/// Applies what is pending. Returns what was applied, and the error that stopped it, if any
/// (what ran before the error stays applied and is recorded).
pub async fn apply(
    client: &sv_cloudflare::Client,
    pending: &[Pending],
) -> (Vec<Migration>, Option<anyhow::Error>) {
    let mut done = Vec::new();
    for p in pending.iter().filter(|p| !p.migrations.is_empty()) {
        for m in &p.migrations {
            // One at a time, so a failure names the migration and what ran before it stays recorded.
            let result = sv_infra::apply_pending_migrations(
                client,
                &p.uuid,
                &p.database.name,
                &p.database.dir,
                std::slice::from_ref(&m.name),
            )
            .await;
            match result {
                Ok(_) => done.push(m.clone()),
                Err(e) => return (done, Some(anyhow::Error::new(e))),
            }
        }
    }
    (done, None)
}

/// A not-backward-compatible migration applied after a version was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocking {
    pub migration: Migration,
    pub applied_at: String,
}

/// The not-backward-compatible migrations (marked in this checkout's files) that the
/// databases applied after `made` (a version's creation time). D1 records `applied_at` to
/// the second: a migration applied within the same second as the version counts as older.
///
/// # Errors
/// API errors, unreadable migration files.
pub async fn applied_after(
    client: &sv_cloudflare::Client,
    databases: &[Database],
    made: DateTime<Utc>,
) -> anyhow::Result<Vec<Blocking>> {
    let made = made.naive_utc().format("%Y-%m-%d %H:%M:%S").to_string();
    let made = NaiveDateTime::parse_from_str(&made, "%Y-%m-%d %H:%M:%S")
        .context("formatting a version time")?;
    let mut out = Vec::new();
    for db in databases {
        let uuid = uuid(client, &db.name).await?;
        let files = sv_infra::migrations::list(&db.dir)?;
        for (name, at) in
            sv_infra::inventory::applied_migrations_at(client, &uuid, &db.name).await?
        {
            let Ok(when) = NaiveDateTime::parse_from_str(&at, "%Y-%m-%d %H:%M:%S") else {
                continue;
            };
            if when <= made || !files.contains(&name) || !marked(db, &name)? {
                continue;
            }
            out.push(Blocking {
                migration: Migration {
                    database: db.name.clone(),
                    name,
                    incompatible: true,
                },
                applied_at: at,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_is_a_leading_comment() {
        assert!(is_incompatible(
            "-- sv: not-backward-compatible\nALTER TABLE a DROP COLUMN b;"
        ));
        assert!(is_incompatible(
            "-- Migration 3: drop the old column\n--   SV: Not-Backward-Compatible (old code reads b)\nALTER TABLE a DROP COLUMN b;"
        ));
        assert!(is_incompatible("--sv:not-backward-compatible\nSELECT 1;"));
        assert!(!is_incompatible("-- add a column\nALTER TABLE a ADD c;"));
        // Only the header counts: a later comment is not a marker.
        assert!(!is_incompatible(
            "CREATE TABLE x(a);\n-- sv: not-backward-compatible"
        ));
    }
}
