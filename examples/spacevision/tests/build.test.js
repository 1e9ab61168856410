// Runs each workspace's build in a scratch copy of the app (so the real dist/ folders are
// untouched) and checks that the output runs on its own.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { before, describe, it } from "node:test";
import { call, makeEnv, webDir, workerDir } from "./helpers/env.js";

const scratch = mkdtempSync(join(tmpdir(), "spacevision-build-"));
const env = { ...process.env, SV_APP_VERSION: "9.9.9-test" };

before(() => {
  for (const ws of ["shared", "worker", "web"]) {
    cpSync(join(workerDir, "..", ws), join(scratch, ws), {
      recursive: true,
      filter: (src) => !/[\\/](dist|node_modules)$/.test(src),
    });
  }
  for (const ws of ["shared", "worker", "web"]) {
    execFileSync(process.execPath, ["build.mjs"], { cwd: join(scratch, ws), env, stdio: "pipe" });
  }
});

/** @param {string} dir @returns {string[]} */
function files(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));
}

describe("worker build", () => {
  it("produces self-contained modules that serve /health with the stamped version", async () => {
    const dist = join(scratch, "worker", "dist");
    for (const file of files(dist).filter((f) => f.endsWith(".js"))) {
      assert.doesNotMatch(readFileSync(file, "utf8"), /from\s+["']@spacevision\//, `${file} still imports a bare package`);
    }
    assert.ok(existsSync(join(dist, "shared", "validate.js")));
    const { default: built } = await import(pathToFileURL(join(dist, "index.js")).href);
    const { status, data } = await call(built, await makeEnv(), "GET", "/health");
    assert.equal(status, 200);
    assert.deepEqual(data, { ok: true, version: "9.9.9-test" });
  });
});

describe("web build", () => {
  it("stamps the version and pre-caches the whole shell", () => {
    const dist = join(scratch, "web", "dist");
    const sw = readFileSync(join(dist, "sw.js"), "utf8");
    assert.doesNotMatch(sw, /__[A-Z_]+__/);
    assert.match(sw, /spacevision-shell-\$\{VERSION\}/);
    assert.match(sw, /const VERSION = "9\.9\.9-test";/);
    const precache = JSON.parse(/const PRECACHE = (\[.*\]);/.exec(sw)?.[1] ?? "[]");
    for (const f of ["./", "./index.html", "./manifest.webmanifest", "./js/app.js", "./js/shared/index.js", "./icons/icon.svg"]) {
      assert.ok(precache.includes(f), `${f} is pre-cached`);
    }
    assert.ok(!precache.includes("./sw.js"));
    assert.deepEqual(JSON.parse(readFileSync(join(dist, "version.json"), "utf8")), { version: "9.9.9-test" });
    assert.match(readFileSync(join(dist, "index.html"), "utf8"), /<span>9\.9\.9-test<\/span>/);
    const manifest = JSON.parse(readFileSync(join(dist, "manifest.webmanifest"), "utf8"));
    for (const icon of manifest.icons) assert.ok(existsSync(join(dist, icon.src)), `${icon.src} exists`);
    assert.ok(existsSync(join(webDir, "wrangler.jsonc")));
  });
});
