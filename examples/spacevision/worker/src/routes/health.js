// Liveness and readiness. `/health` answers without touching any binding so the
// deploy gate measures the worker itself; `/health/deep` probes D1, KV and R2.

import { json } from "../http.js";
import { VERSION } from "../version.js";

/** @param {import("../router.js").RouteContext} c */
export function health({ env }) {
  /** @type {import("@spacevision/shared").HealthResponse} */
  const body = { ok: true, version: env.APP_VERSION || VERSION };
  return json(body, 200, { "cache-control": "no-store" });
}

/** @param {import("../router.js").RouteContext} c */
export async function deepHealth({ env }) {
  /** @type {Record<string, string>} */
  const checks = {};
  const probes = {
    d1: async () => {
      const row = await env.DB.prepare("SELECT 1 AS one").first();
      if (!row || row.one !== 1) throw new Error("unexpected result");
    },
    kv: async () => {
      await env.CACHE.get("health:probe");
    },
    r2: async () => {
      await env.UPLOADS.head("health/probe");
    },
  };
  for (const [name, probe] of Object.entries(probes)) {
    try {
      await probe();
      checks[name] = "ok";
    } catch (err) {
      checks[name] = `error: ${err instanceof Error ? err.message : String(err)}`;
    }
  }
  const ok = Object.values(checks).every((v) => v === "ok");
  return json({ ok, version: env.APP_VERSION || VERSION, checks }, ok ? 200 : 503, { "cache-control": "no-store" });
}
