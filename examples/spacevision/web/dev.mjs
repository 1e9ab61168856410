// `npm run dev -w web` (started by `sv-onboard dev`): the web app on this machine.
// Builds dist/ (as `npm run build` does, with a per-build version so the service worker
// never serves a stale cache), serves it, proxies /api/ to the local Worker — the same
// origin the Pages site gives the app in production — and rebuilds when src/ or public/
// change. dist/ is also rebuilt by sv-onboard dev when shared/ changes; it is read from
// disk on every request, so either rebuild shows on the next reload.
//
// Settings (environment): WEB_PORT (default 8788), SV_WORKER_URL (default
// http://127.0.0.1:$WORKER_PORT, WORKER_PORT defaulting to 8787).
import { spawnSync } from "node:child_process";
import { createReadStream, readdirSync, statSync } from "node:fs";
import { createServer, request as httpRequest } from "node:http";
import { dirname, extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");
const port = Number(process.env.WEB_PORT || 8788);
const workerUrl = new URL(process.env.SV_WORKER_URL || `http://127.0.0.1:${process.env.WORKER_PORT || 8787}`);

const types = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".webmanifest": "application/manifest+json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
};

/** Builds dist/ with a fresh version; a failed build keeps the last good dist/ and says so. */
function build(reason) {
  const version = `dev-${Date.now()}`;
  const result = spawnSync(process.execPath, [join(here, "build.mjs")], {
    cwd: here,
    env: { ...process.env, SV_APP_VERSION: version, SPACEVISION_API_BASE_URL: "" },
    encoding: "utf8",
  });
  if (result.status === 0) {
    console.log(`web: rebuilt dist/ (${reason}, version ${version})`);
  } else {
    console.error(`web: build failed (${reason}); still serving the previous dist/\n${result.stderr}`);
  }
  return result.status === 0;
}

/** Newest modification time under a directory, to notice edits without platform watchers. */
function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

/** Proxies one request to the Worker, streaming both ways. */
function proxy(req, res) {
  const upstream = httpRequest(
    {
      hostname: workerUrl.hostname,
      port: workerUrl.port,
      method: req.method,
      path: req.url,
      headers: { ...req.headers, host: workerUrl.host },
    },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  upstream.on("error", (error) => {
    res.writeHead(502, { "content-type": "text/plain; charset=utf-8" });
    res.end(`the local Worker at ${workerUrl.origin} did not answer (${error.code || error.message}): is it running?\n`);
  });
  req.pipe(upstream);
}

/** Serves a file of dist/, index.html for the app's routes, never caching in dev. */
function serve(req, res) {
  const path = decodeURIComponent(new URL(req.url, "http://localhost").pathname);
  let file = normalize(join(dist, path));
  if (file !== dist && !file.startsWith(dist + sep)) {
    res.writeHead(403).end();
    return;
  }
  try {
    if (statSync(file).isDirectory()) file = join(file, "index.html");
    statSync(file);
  } catch {
    file = join(dist, "index.html");
  }
  res.writeHead(200, { "content-type": types[extname(file)] || "application/octet-stream", "cache-control": "no-store" });
  createReadStream(file).pipe(res);
}

build("start");
const server = createServer((req, res) => (req.url.startsWith("/api/") ? proxy(req, res) : serve(req, res)));
server.listen(port, "127.0.0.1", () => {
  console.log(`web: serving http://127.0.0.1:${port} (API proxied to ${workerUrl.origin})`);
});

const watched = ["src", "public"].map((d) => join(here, d));
let seen = Math.max(...watched.map(newest));
const timer = setInterval(() => {
  const now = Math.max(...watched.map(newest));
  if (now > seen) {
    seen = now;
    build("src/ or public/ changed");
  }
}, 500);

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    clearInterval(timer);
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
}
