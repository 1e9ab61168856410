// Site-wide counters. The cron refreshes them into CACHE; the endpoint computes them on a
// cache miss so the first request after a deploy still answers.

import { json } from "../http.js";

/**
 * @param {import("../router.js").Env} env
 * @returns {Promise<{ observations: number, users: number, uploads: number, uploadBytes: number, computedAt: string }>}
 */
export async function computeStats(env) {
  const [obs, users, uploads] = await env.DB.batch([
    env.DB.prepare("SELECT COUNT(*) AS n FROM observations"),
    env.DB.prepare("SELECT COUNT(*) AS n FROM users"),
    env.DB.prepare("SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS bytes FROM uploads"),
  ]);
  return {
    observations: Number(obs.results[0].n),
    users: Number(users.results[0].n),
    uploads: Number(uploads.results[0].n),
    uploadBytes: Number(uploads.results[0].bytes),
    computedAt: new Date().toISOString(),
  };
}

/** @param {import("../router.js").RouteContext} c */
export async function getStats({ env }) {
  const cached = await env.CACHE.get("stats", { type: "json" });
  if (cached) return json({ ok: true, ...cached }, 200, { "x-cache": "hit" });
  const stats = await computeStats(env);
  return json({ ok: true, ...stats }, 200, { "x-cache": "miss" });
}
