// Builds dist/: the worker's modules plus @spacevision/shared, as plain ES modules that
// wrangler uploads unbundled (see `no_bundle` in wrangler.toml). Bare imports of the
// shared package are rewritten to relative paths, so dist/ is self-contained and the
// build needs no bundler and no download.
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");
const sharedSrc = join(here, "..", "shared", "src");
const pkg = JSON.parse(readFileSync(join(here, "package.json"), "utf8"));

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
cpSync(join(here, "src"), dist, { recursive: true });
cpSync(sharedSrc, join(dist, "shared"), { recursive: true });

/** @param {string} dir @returns {string[]} */
function jsFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return jsFiles(path);
    return path.endsWith(".js") ? [path] : [];
  });
}

const bareShared = /(from\s+|import\s*\(\s*)(["'])@spacevision\/shared\2/g;
let rewritten = 0;
for (const file of jsFiles(dist)) {
  const source = readFileSync(file, "utf8");
  let target = relative(dirname(file), join(dist, "shared", "index.js")).split(sep).join("/");
  if (!target.startsWith(".")) target = `./${target}`;
  const out = source.replace(bareShared, (_m, lead, quote) => {
    rewritten += 1;
    return `${lead}${quote}${target}${quote}`;
  });
  if (out !== source) writeFileSync(file, out);
}

// Stamp the version the health endpoint reports.
const version = process.env.SV_APP_VERSION || pkg.version;
writeFileSync(join(dist, "version.js"), `export const VERSION = ${JSON.stringify(version)};\n`);

// Refuse to ship a bare import the runtime could not resolve.
for (const file of jsFiles(dist)) {
  if (/from\s+["']@spacevision\//.test(readFileSync(file, "utf8"))) {
    throw new Error(`unresolved @spacevision import left in ${relative(here, file)}`);
  }
}
console.log(`worker: built dist/ (${jsFiles(dist).length} modules, ${rewritten} shared imports rewritten, version ${version})`);
