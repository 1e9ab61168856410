// Scheduled work, one function per cron expression in wrangler.toml ([triggers] crons).

import { TMP_UPLOAD_PREFIX } from "@spacevision/shared";
import { computeStats } from "./routes/stats.js";

export const REFRESH_STATS_CRON = "*/30 * * * *";
export const PURGE_TMP_CRON = "0 3 * * *";
const TMP_MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000;

/** @param {import("./router.js").Env} env */
export async function refreshStats(env) {
  const stats = await computeStats(env);
  await env.CACHE.put("stats", JSON.stringify(stats), { expirationTtl: 60 * 60 });
  return stats;
}

/**
 * Deletes temporary uploads older than seven days. The R2 lifecycle rule does the same
 * in production; this keeps dev buckets (which have no rule) tidy too.
 * @param {import("./router.js").Env} env
 * @param {number} now
 * @returns {Promise<number>} how many objects were deleted
 */
export async function purgeTmpUploads(env, now) {
  let deleted = 0;
  /** @type {string | undefined} */
  let cursor;
  do {
    const page = await env.UPLOADS.list({ prefix: TMP_UPLOAD_PREFIX, cursor, limit: 1000 });
    const stale = page.objects.filter((o) => now - new Date(o.uploaded).getTime() > TMP_MAX_AGE_MS).map((o) => o.key);
    if (stale.length > 0) {
      await env.UPLOADS.delete(stale);
      deleted += stale.length;
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return deleted;
}

/**
 * @param {{ cron: string, scheduledTime: number }} event
 * @param {import("./router.js").Env} env
 */
export async function runScheduled(event, env) {
  switch (event.cron) {
    case REFRESH_STATS_CRON:
      await refreshStats(env);
      return;
    case PURGE_TMP_CRON:
      await purgeTmpUploads(env, event.scheduledTime);
      return;
    default:
      throw new Error(`no job for cron "${event.cron}"`);
  }
}
