// `npm run dev -w worker` (started by `sv-onboard dev`): the API on this machine, offline.
// Runs `wrangler dev --local` with local KV, D1 and R2 (state in worker/.wrangler/), after
// applying the D1 migrations to the local database and loading seed.sql once, so the API
// answers with data from the first request.
//
// Settings (environment): WORKER_PORT (default 8787), WRANGLER (path to wrangler; default
// the one `npm install` put in node_modules/.bin, then PATH).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const port = process.env.WORKER_PORT || "8787";
const binding = "DB";

/** The wrangler to run: $WRANGLER, the workspace's node_modules/.bin, or PATH. */
function findWrangler() {
  if (process.env.WRANGLER) return process.env.WRANGLER;
  const name = process.platform === "win32" ? "wrangler.cmd" : "wrangler";
  const candidates = [join(here, "node_modules", ".bin", name), join(here, "..", "node_modules", ".bin", name)];
  for (const dir of (process.env.PATH || "").split(delimiter)) if (dir) candidates.push(join(dir, name));
  return candidates.find((path) => existsSync(path));
}

const wrangler = findWrangler();
if (!wrangler) {
  console.error(
    "worker: wrangler is not installed. Run `npm install` at the app root (wrangler is a devDependency of the worker), then `npm run dev` again.",
  );
  process.exit(1);
}

// Non-interactive, no telemetry, no prompts: this runs under sv-onboard dev, not a TTY.
const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" };

/** Runs a wrangler command to completion; exits with its status when it fails. */
function run(args, what) {
  const result = spawnSync(wrangler, args, { cwd: here, env, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
  if (result.status !== 0) {
    process.stderr.write(result.stdout || "");
    process.stderr.write(result.stderr || "");
    console.error(`worker: ${what} failed (wrangler ${args.join(" ")})`);
    process.exit(result.status ?? 1);
  }
}

run(["d1", "migrations", "apply", binding, "--local"], "applying D1 migrations locally");
console.log("worker: local D1 migrations applied");

// Seed once per local database: the marker lives with wrangler's local state, so deleting
// worker/.wrangler/ starts over with an empty, re-seeded database.
const seeded = join(here, ".wrangler", "sv-seeded");
if (existsSync(join(here, "seed.sql")) && !existsSync(seeded)) {
  run(["d1", "execute", binding, "--local", "--file", "seed.sql"], "loading seed.sql");
  mkdirSync(dirname(seeded), { recursive: true });
  writeFileSync(seeded, `${new Date().toISOString()}\n`);
  console.log("worker: seed.sql loaded into the local database");
}

const child = spawn(wrangler, ["dev", "--local", "--ip", "127.0.0.1", "--port", port, "--inspector-port", "0"], {
  cwd: here,
  env,
  stdio: "inherit",
});
// Stop wrangler (and the workerd it runs) with us.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => child.kill(signal));
}
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
