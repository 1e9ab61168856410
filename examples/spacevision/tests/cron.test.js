import assert from "node:assert/strict";
import { describe, it } from "node:test";
import worker from "@spacevision/worker";
import { PURGE_TMP_CRON, REFRESH_STATS_CRON, purgeTmpUploads } from "../worker/src/cron.js";
import { makeCtx, makeEnv } from "./helpers/env.js";

describe("scheduled", () => {
  it("refreshes the stats cache on its cron", async () => {
    const env = await makeEnv({ seed: true });
    const ctx = makeCtx();
    await worker.scheduled({ cron: REFRESH_STATS_CRON, scheduledTime: Date.now() }, env, ctx);
    await Promise.all(ctx.pending);
    const stats = await env.CACHE.get("stats", { type: "json" });
    assert.equal(stats.observations, 3);
    assert.equal(stats.users, 2);
  });

  it("purges only temporary uploads older than seven days", async () => {
    let now = Date.parse("2026-11-01T00:00:00Z");
    const env = await makeEnv({ now: () => now });
    await env.UPLOADS.put("tmp/old.jpg", "x");
    await env.UPLOADS.put("users/1/keep.jpg", "x");
    now += 8 * 24 * 3600 * 1000;
    await env.UPLOADS.put("tmp/new.jpg", "x");
    assert.equal(await purgeTmpUploads(env, now), 1);
    assert.deepEqual([...env.UPLOADS.objects.keys()].sort(), ["tmp/new.jpg", "users/1/keep.jpg"]);
    assert.equal(PURGE_TMP_CRON, "0 3 * * *");
  });

  it("fails loudly for a cron it does not know", async () => {
    const env = await makeEnv();
    const ctx = makeCtx();
    await worker.scheduled({ cron: "* * * * *", scheduledTime: Date.now() }, env, ctx);
    await assert.rejects(Promise.all(ctx.pending), /no job for cron/);
  });
});
