// Builds dist/ for Cloudflare Pages: copies public/ and src/, brings in the shared
// modules the app imports, and stamps the version into the service worker so each
// release gets a fresh offline cache.
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");
const pkg = JSON.parse(readFileSync(join(here, "package.json"), "utf8"));
const version = process.env.SV_APP_VERSION || pkg.version;
const apiBase = process.env.SPACEVISION_API_BASE_URL || "";

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
cpSync(join(here, "public"), dist, { recursive: true });
cpSync(join(here, "src"), join(dist, "js"), { recursive: true });
cpSync(join(here, "..", "shared", "src"), join(dist, "js", "shared"), { recursive: true });

/** Replaces every placeholder in a built file and fails if one is left over. */
function stamp(relPath, values) {
  const path = join(dist, relPath);
  let text = readFileSync(path, "utf8");
  for (const [key, value] of Object.entries(values)) text = text.replaceAll(`__${key}__`, value);
  const left = /__[A-Z_]+__/.exec(text);
  if (left) throw new Error(`${relPath}: placeholder ${left[0]} was not stamped`);
  writeFileSync(path, text);
}

// The files the service worker pre-caches: everything in dist except itself.
function listFiles(dir, prefix = "") {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
  );
}
const precache = ["./", ...listFiles(dist).filter((f) => f !== "sw.js").map((f) => `./${f}`)].sort();

stamp("sw.js", { APP_VERSION: version, PRECACHE: JSON.stringify(precache) });
stamp("js/config.js", { APP_VERSION: version, API_BASE_URL: apiBase });
stamp("index.html", { APP_VERSION: version });
writeFileSync(join(dist, "version.json"), `${JSON.stringify({ version })}\n`);
console.log(`web: built dist/ (${precache.length} files pre-cached, version ${version})`);
