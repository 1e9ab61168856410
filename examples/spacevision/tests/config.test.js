import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { describe, it } from "node:test";
import { PURGE_TMP_CRON, REFRESH_STATS_CRON } from "../worker/src/cron.js";
import { FakeD1, bindSql } from "./helpers/d1.js";
import { parseJsonc } from "./helpers/jsonc.js";
import { webDir, workerDir } from "./helpers/env.js";

describe("D1 migrations", () => {
  it("follow wrangler's NNNN_name.sql naming with no gaps", () => {
    const files = readdirSync(`${workerDir}migrations`).sort();
    assert.ok(files.length >= 2);
    files.forEach((file, i) => {
      assert.match(file, /^\d{4}_[a-z0-9_]+\.sql$/);
      assert.equal(Number(file.slice(0, 4)), i + 1, `${file} out of sequence`);
    });
  });

  it("apply once, then are recorded and skipped; the seed re-runs safely", async () => {
    const db = new FakeD1();
    const first = await db.applyMigrations(`${workerDir}migrations`);
    assert.deepEqual(first, ["0001_init.sql", "0002_add_uploads.sql"]);
    assert.deepEqual(await db.applyMigrations(`${workerDir}migrations`), []);
    const seed = readFileSync(`${workerDir}seed.sql`, "utf8");
    await db.exec(seed);
    await db.exec(seed);
    assert.equal(await db.prepare("SELECT COUNT(*) AS n FROM observations").first("n"), 3);
    const columns = (await db.prepare("PRAGMA table_info(observations)").all()).results.map((c) => c.name);
    assert.ok(columns.includes("image_key"));
  });

  it("enforce foreign keys like D1", async () => {
    const db = new FakeD1();
    await db.applyMigrations(`${workerDir}migrations`);
    await assert.rejects(
      db.prepare("INSERT INTO observations (user_id, target, observed_at, seeing) VALUES (?, ?, ?, ?)").bind(42, "M1", "2026-01-01T00:00:00Z", 3).run(),
      /FOREIGN KEY constraint failed/,
    );
  });
});

describe("the D1 fake's parameter binding", () => {
  it("binds outside strings and comments only", () => {
    assert.equal(bindSql("SELECT '?' AS q, ? AS a -- ?\n, ?2 AS b", ["x", "it's"]), "SELECT '?' AS q, 'x' AS a -- ?\n, 'it''s' AS b");
    assert.throws(() => bindSql("SELECT ?", []), /not bound/);
    assert.throws(() => bindSql("SELECT 1", [1]), /1 values bound, 0 used/);
  });
});

describe("wrangler configuration", () => {
  const toml = readFileSync(`${workerDir}wrangler.toml`, "utf8");

  it("schedules exactly the crons the worker handles", () => {
    const crons = /^\[triggers\]\s*\ncrons = (\[.*\])$/m.exec(toml);
    assert.ok(crons, "wrangler.toml has a [triggers] crons line");
    assert.deepEqual(JSON.parse(crons[1]).sort(), [PURGE_TMP_CRON, REFRESH_STATS_CRON].sort());
  });

  it("binds every name the worker's Env uses", () => {
    for (const binding of ["SESSIONS", "CACHE", "DB", "UPLOADS"]) {
      assert.match(toml, new RegExp(`binding = "${binding}"`));
    }
    assert.match(toml, /^main = "dist\/index.js"$/m);
  });

  it("web/wrangler.jsonc parses as JSONC with comments and trailing commas", () => {
    const text = readFileSync(`${webDir}wrangler.jsonc`, "utf8");
    assert.throws(() => JSON.parse(text));
    const config = parseJsonc(text);
    assert.equal(config.name, "spacevision-web");
    assert.equal(config.pages_build_output_dir, "./dist");
    assert.equal(config.vars.API_BASE_URL, "https://api.spacevision.app");
    assert.equal(config.env.preview.vars.API_BASE_URL, "https://api.staging.spacevision.app");
  });
});
