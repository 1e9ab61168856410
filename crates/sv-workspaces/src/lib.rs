//! `sv-workspaces` owns the npm-workspaces view of an app: which workspaces the root
//! `package.json` declares (literal paths and `*` globs, `!` exclusions, npm's array form and
//! yarn's `{ packages: [...] }` form), each workspace's package name, scripts and
//! dependencies on the other workspaces, and the build order in waves (each wave depends only
//! on earlier ones, so its members may build in parallel).
//!
//! Reading is the only I/O ([`read`]); the graph and its order are pure ([`Graph::waves`]).
//! Both `sv-deploy` (ordered builds) and `sv-onboard` (workspace layout, dev mode) use it.
//!
//! ```no_run
//! let mut graph = sv_workspaces::read("examples/spacevision".as_ref())?;
//! graph.add_dependency("tests", "shared")?; // e.g. sv.yaml `depends_on`
//! for wave in graph.waves()? {
//!     // build every workspace of `wave` in parallel
//! }
//! # Ok::<(), sv_workspaces::Error>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// What can go wrong reading workspaces or ordering them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not valid package.json: {source}", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{} declares no `workspaces`: not an npm-workspaces monorepo", path.display())]
    NoWorkspaces { path: PathBuf },
    #[error("workspaces `{first}` and `{second}` are both named `{name}` in their package.json")]
    DuplicateName {
        name: String,
        first: String,
        second: String,
    },
    #[error("unknown workspace `{name}`{}", if known.is_empty() { String::new() } else { format!(" (workspaces: {})", known.join(", ")) })]
    UnknownWorkspace { name: String, known: Vec<String> },
    #[error("workspace dependency cycle: {}", cycle.join(" -> "))]
    Cycle { cycle: Vec<String> },
}

/// One workspace of the monorepo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Workspace {
    /// Its directory relative to the app root, with `/` separators (`shared`,
    /// `packages/ui`); the key used everywhere in this crate.
    pub id: String,
    /// `name` from its package.json (the id when it has none).
    pub name: String,
    /// Script names from its package.json (`build`, `test`, …).
    pub scripts: BTreeSet<String>,
    /// Ids of the workspaces it needs first.
    pub depends_on: BTreeSet<String>,
}

impl Workspace {
    /// Whether `npm run <script> -w <id>` would find the script.
    #[must_use]
    pub fn has_script(&self, script: &str) -> bool {
        self.scripts.contains(script)
    }
}

/// The workspaces and their dependencies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Graph {
    /// By id.
    pub workspaces: BTreeMap<String, Workspace>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum WorkspacesField {
    List(Vec<String>),
    Yarn {
        #[serde(default)]
        packages: Vec<String>,
    },
}

#[derive(Deserialize, Default)]
struct PackageJson {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    workspaces: Option<WorkspacesField>,
    #[serde(default)]
    scripts: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    dependencies: BTreeMap<String, serde_json::Value>,
    #[serde(default, rename = "devDependencies")]
    dev_dependencies: BTreeMap<String, serde_json::Value>,
    #[serde(default, rename = "peerDependencies")]
    peer_dependencies: BTreeMap<String, serde_json::Value>,
    #[serde(default, rename = "optionalDependencies")]
    optional_dependencies: BTreeMap<String, serde_json::Value>,
}

fn read_package(path: &Path) -> Result<PackageJson, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| Error::Parse {
        path: path.to_owned(),
        source,
    })
}

/// Reads the root `package.json` under `root` and every workspace it declares.
///
/// # Errors
/// Unreadable or invalid package.json files, a root without `workspaces`, two workspaces
/// with the same package name.
pub fn read(root: &Path) -> Result<Graph, Error> {
    let root_manifest = root.join("package.json");
    let pkg = read_package(&root_manifest)?;
    let patterns = match pkg.workspaces {
        Some(WorkspacesField::List(p) | WorkspacesField::Yarn { packages: p }) => p,
        None => {
            return Err(Error::NoWorkspaces {
                path: root_manifest,
            });
        }
    };
    let mut dirs = BTreeSet::new();
    for pattern in patterns.iter().filter(|p| !p.starts_with('!')) {
        for dir in expand(root, pattern)? {
            dirs.insert(dir);
        }
    }
    for pattern in patterns.iter().filter_map(|p| p.strip_prefix('!')) {
        let excluded = expand(root, pattern)?;
        dirs.retain(|d| !excluded.contains(d));
    }
    let mut manifests = Vec::new();
    for id in dirs {
        let manifest = read_package(&root.join(&id).join("package.json"))?;
        manifests.push((id, manifest));
    }
    from_manifests(manifests)
}

fn from_manifests(manifests: Vec<(String, PackageJson)>) -> Result<Graph, Error> {
    let mut by_name: BTreeMap<String, String> = BTreeMap::new();
    for (id, m) in &manifests {
        let name = m.name.clone().unwrap_or_else(|| id.clone());
        if let Some(first) = by_name.insert(name.clone(), id.clone()) {
            return Err(Error::DuplicateName {
                name,
                first,
                second: id.clone(),
            });
        }
    }
    let mut graph = Graph::default();
    for (id, m) in manifests {
        let depends_on = m
            .dependencies
            .keys()
            .chain(m.dev_dependencies.keys())
            .chain(m.peer_dependencies.keys())
            .chain(m.optional_dependencies.keys())
            .filter_map(|dep| by_name.get(dep))
            .filter(|dep| **dep != id)
            .cloned()
            .collect();
        graph.workspaces.insert(
            id.clone(),
            Workspace {
                name: m.name.unwrap_or_else(|| id.clone()),
                id,
                scripts: m.scripts.into_keys().collect(),
                depends_on,
            },
        );
    }
    Ok(graph)
}

/// Directories (relative, `/`-separated) matching `pattern` that hold a package.json. A
/// segment may contain `*` (any characters but `/`); `**` matches any depth of directories
/// (not descending into `node_modules` or hidden directories).
fn expand(root: &Path, pattern: &str) -> Result<BTreeSet<String>, Error> {
    let pattern = pattern.trim_start_matches("./").trim_end_matches('/');
    let segments: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    let mut found = BTreeSet::new();
    walk(root, "", &segments, &mut found)?;
    Ok(found)
}

fn walk(
    root: &Path,
    prefix: &str,
    segments: &[&str],
    found: &mut BTreeSet<String>,
) -> Result<(), Error> {
    let Some((first, rest)) = segments.split_first() else {
        if !prefix.is_empty() && root.join(prefix).join("package.json").is_file() {
            found.insert(prefix.to_owned());
        }
        return Ok(());
    };
    let join = |name: &str| {
        if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}/{name}")
        }
    };
    if !first.contains('*') {
        if root.join(prefix).join(first).is_dir() {
            walk(root, &join(first), rest, found)?;
        }
        return Ok(());
    }
    let dir = root.join(prefix);
    let entries = std::fs::read_dir(&dir).map_err(|source| Error::Read {
        path: dir.clone(),
        source,
    })?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| Error::Read {
            path: dir.clone(),
            source,
        })?;
        if entry.path().is_dir()
            && let Some(name) = entry.file_name().to_str()
            && !name.starts_with('.')
            && name != "node_modules"
        {
            names.push(name.to_owned());
        }
    }
    names.sort();
    for name in names {
        if *first == "**" {
            // `**` matches zero or more directories.
            walk(root, &join(&name), segments, found)?;
            walk(root, &join(&name), rest, found)?;
        } else if wildcard(first, &name) {
            walk(root, &join(&name), rest, found)?;
        }
    }
    if *first == "**" {
        walk(root, prefix, rest, found)?;
    }
    Ok(())
}

/// `*` matches any run of characters.
fn wildcard(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            let Some(after) = text.strip_prefix(head) else {
                return false;
            };
            (0..=after.len())
                .filter(|i| after.is_char_boundary(*i))
                .any(|i| wildcard(tail, &after[i..]))
        }
    }
}

impl Graph {
    /// A workspace by id, package name, or last path component (in that order).
    #[must_use]
    pub fn find(&self, key: &str) -> Option<&Workspace> {
        self.workspaces.get(key).or_else(|| {
            self.workspaces
                .values()
                .find(|w| w.name == key)
                .or_else(|| {
                    let mut by_dir = self
                        .workspaces
                        .values()
                        .filter(|w| w.id.rsplit('/').next() == Some(key));
                    match (by_dir.next(), by_dir.next()) {
                        (Some(w), None) => Some(w),
                        _ => None,
                    }
                })
        })
    }

    fn id_of(&self, key: &str) -> Result<String, Error> {
        self.find(key)
            .map(|w| w.id.clone())
            .ok_or_else(|| Error::UnknownWorkspace {
                name: key.to_owned(),
                known: self.workspaces.keys().cloned().collect(),
            })
    }

    /// Adds "`from` needs `to` first" (both by id, package name or directory name), e.g. from
    /// sv.yaml's `workspaces.<name>.depends_on`.
    ///
    /// # Errors
    /// [`Error::UnknownWorkspace`] when either is not a workspace.
    pub fn add_dependency(&mut self, from: &str, to: &str) -> Result<(), Error> {
        let from = self.id_of(from)?;
        let to = self.id_of(to)?;
        if let Some(w) = self.workspaces.get_mut(&from) {
            w.depends_on.insert(to);
        }
        Ok(())
    }

    /// Ids in build order: each wave depends only on earlier waves; sorted within a wave.
    ///
    /// # Errors
    /// [`Error::Cycle`] naming the cycle (`a -> b -> a`).
    pub fn waves(&self) -> Result<Vec<Vec<String>>, Error> {
        let mut done: BTreeSet<&str> = BTreeSet::new();
        let mut waves = Vec::new();
        while done.len() < self.workspaces.len() {
            let wave: Vec<String> = self
                .workspaces
                .values()
                .filter(|w| !done.contains(w.id.as_str()))
                .filter(|w| w.depends_on.iter().all(|d| done.contains(d.as_str())))
                .map(|w| w.id.clone())
                .collect();
            if wave.is_empty() {
                return Err(Error::Cycle {
                    cycle: self.find_cycle(&done),
                });
            }
            for id in &wave {
                if let Some((k, _)) = self.workspaces.get_key_value(id) {
                    done.insert(k.as_str());
                }
            }
            waves.push(wave);
        }
        Ok(waves)
    }

    /// Follows unmet dependencies from the first blocked workspace until one repeats.
    fn find_cycle(&self, done: &BTreeSet<&str>) -> Vec<String> {
        let Some(start) = self
            .workspaces
            .keys()
            .find(|id| !done.contains(id.as_str()))
        else {
            return Vec::new();
        };
        let mut path: Vec<String> = vec![start.clone()];
        let mut current = start.clone();
        loop {
            let next = self.workspaces.get(&current).and_then(|w| {
                w.depends_on
                    .iter()
                    .find(|d| !done.contains(d.as_str()) && self.workspaces.contains_key(*d))
            });
            let Some(next) = next else {
                return path;
            };
            if let Some(pos) = path.iter().position(|p| p == next) {
                let mut cycle = path.split_off(pos);
                cycle.push(next.clone());
                return cycle;
            }
            path.push(next.clone());
            current = next.clone();
        }
    }

    /// Every workspace `id` depends on, directly or not.
    #[must_use]
    pub fn dependencies_of(&self, id: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![id.to_owned()];
        while let Some(cur) = stack.pop() {
            if let Some(w) = self.workspaces.get(&cur) {
                for d in &w.depends_on {
                    if seen.insert(d.clone()) {
                        stack.push(d.clone());
                    }
                }
            }
        }
        seen
    }

    /// Every workspace that depends on `id`, directly or not.
    #[must_use]
    pub fn dependents_of(&self, id: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![id.to_owned()];
        while let Some(cur) = stack.pop() {
            for w in self.workspaces.values() {
                if w.depends_on.contains(&cur) && seen.insert(w.id.clone()) {
                    stack.push(w.id.clone());
                }
            }
        }
        seen
    }

    /// The workspace whose directory holds `path` (relative to the app root, `/`
    /// separators); the deepest one when workspaces nest.
    #[must_use]
    pub fn owner_of(&self, path: &str) -> Option<&Workspace> {
        self.workspaces
            .values()
            .filter(|w| path.starts_with(&format!("{}/", w.id)))
            .max_by_key(|w| w.id.len())
    }

    /// The workspaces `changed` (paths relative to the app root, e.g. from
    /// `git diff --name-only --relative REF`) affect: those holding a changed file, plus
    /// every workspace depending on them. A change to the root's [`ROOT_MANIFESTS`]
    /// (dependencies of every workspace) affects all; other files outside every workspace
    /// (docs, CI, sv.yaml) affect none.
    #[must_use]
    pub fn affected<S: AsRef<str>>(&self, changed: &[S]) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for path in changed {
            let path = path.as_ref().trim_start_matches("./");
            if ROOT_MANIFESTS.contains(&path) {
                return self.workspaces.keys().cloned().collect();
            }
            if let Some(w) = self.owner_of(path) {
                out.insert(w.id.clone());
            }
        }
        let dependents: Vec<String> = out.iter().flat_map(|id| self.dependents_of(id)).collect();
        out.extend(dependents);
        out
    }
}

/// Root files whose change affects every workspace.
pub const ROOT_MANIFESTS: [&str; 4] = [
    "package.json",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, json: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, json).unwrap();
    }

    fn spacevision() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/spacevision")
    }

    #[test]
    fn spacevision_builds_shared_then_web_and_worker_then_tests() {
        let graph = read(&spacevision()).unwrap();
        assert_eq!(
            graph.waves().unwrap(),
            vec![
                vec!["shared".to_owned()],
                vec!["web".to_owned(), "worker".to_owned()],
                vec!["tests".to_owned()],
            ]
        );
        let worker = graph.find("@spacevision/worker").unwrap();
        assert_eq!(worker.id, "worker");
        assert!(worker.has_script("build"));
    }

    #[test]
    fn affected_is_what_changed_and_what_depends_on_it() {
        let graph = read(&spacevision()).unwrap();
        let set = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<BTreeSet<_>>();
        assert_eq!(
            graph.affected(&["worker/src/index.ts", "README.md"]),
            set(&["tests", "worker"])
        );
        assert_eq!(
            graph.affected(&["shared/src/types.ts"]),
            set(&["shared", "tests", "web", "worker"])
        );
        assert_eq!(graph.affected(&["web/index.html"]), set(&["tests", "web"]));
        assert!(graph.affected(&["docs/x.md", "sv.yaml"]).is_empty());
        assert!(graph.affected::<&str>(&[]).is_empty());
        assert_eq!(graph.affected(&["package-lock.json"]).len(), 4);
        // A directory sharing a prefix is not the workspace.
        assert!(graph.affected(&["workers-notes/a.md"]).is_empty());
        assert_eq!(graph.dependents_of("tests"), BTreeSet::new());
    }

    #[test]
    fn globs_exclusions_and_dev_dependencies() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            "package.json",
            r#"{"workspaces": {"packages": ["packages/*", "apps/**", "!packages/skip*"]}}"#,
        );
        write(root, "packages/a/package.json", r#"{"name": "a"}"#);
        write(
            root,
            "packages/b/package.json",
            r#"{"name": "b", "devDependencies": {"a": "*", "left-pad": "1"}}"#,
        );
        write(root, "packages/skipme/package.json", r#"{"name": "skip"}"#);
        write(root, "packages/nodir.txt/x", "");
        write(
            root,
            "apps/web/site/package.json",
            r#"{"name": "site", "dependencies": {"b": "*"}, "scripts": {"build": "x"}}"#,
        );
        let graph = read(root).unwrap();
        assert_eq!(
            graph.workspaces.keys().collect::<Vec<_>>(),
            ["apps/web/site", "packages/a", "packages/b"]
        );
        assert_eq!(
            graph.waves().unwrap(),
            vec![
                vec!["packages/a".to_owned()],
                vec!["packages/b".to_owned()],
                vec!["apps/web/site".to_owned()],
            ]
        );
        assert_eq!(graph.find("site").unwrap().id, "apps/web/site");
        assert_eq!(
            graph.dependencies_of("apps/web/site"),
            BTreeSet::from(["packages/a".to_owned(), "packages/b".to_owned()])
        );
    }

    #[test]
    fn a_cycle_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "package.json", r#"{"workspaces": ["x", "y", "z"]}"#);
        write(root, "x/package.json", r#"{"name": "x"}"#);
        write(
            root,
            "y/package.json",
            r#"{"name": "y", "dependencies": {"z": "1"}}"#,
        );
        write(
            root,
            "z/package.json",
            r#"{"name": "z", "dependencies": {"x": "1"}}"#,
        );
        let mut graph = read(root).unwrap();
        graph.add_dependency("x", "y").unwrap();
        let err = graph.waves().unwrap_err();
        assert_eq!(
            err.to_string(),
            "workspace dependency cycle: x -> y -> z -> x"
        );
        let err = graph.add_dependency("x", "nope").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown workspace `nope` (workspaces: x, y, z)"
        );
    }

    #[test]
    fn no_workspaces_and_duplicate_names_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "package.json", r#"{"name": "single"}"#);
        assert!(matches!(read(root), Err(Error::NoWorkspaces { .. })));
        write(root, "package.json", r#"{"workspaces": ["p/*"]}"#);
        write(root, "p/a/package.json", r#"{"name": "same"}"#);
        write(root, "p/b/package.json", r#"{"name": "same"}"#);
        assert!(matches!(read(root), Err(Error::DuplicateName { .. })));
    }

    #[test]
    fn wildcard_matching() {
        assert!(wildcard("*", "abc"));
        assert!(wildcard("a*c", "abbc"));
        assert!(wildcard("pkg-*", "pkg-"));
        assert!(!wildcard("a*c", "abd"));
    }
}
