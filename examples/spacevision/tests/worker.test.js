import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { beforeEach, describe, it } from "node:test";
import worker from "@spacevision/worker";
import { call, makeEnv, signIn, workerDir } from "./helpers/env.js";

const pkg = JSON.parse(readFileSync(`${workerDir}package.json`, "utf8"));

describe("health", () => {
  it("GET /health answers ok with the version and no-store", async () => {
    const env = await makeEnv();
    const { status, data, response } = await call(worker, env, "GET", "/health");
    assert.equal(status, 200);
    assert.deepEqual(data, { ok: true, version: "0.0.0-dev" });
    assert.equal(response.headers.get("cache-control"), "no-store");
    assert.equal(response.headers.get("access-control-allow-origin"), "https://spacevision.test");
    assert.notEqual(pkg.version, undefined);
  });

  it("APP_VERSION overrides the built-in version", async () => {
    const env = await makeEnv({ vars: { APP_VERSION: "1.2.3" } });
    const { data } = await call(worker, env, "GET", "/health");
    assert.equal(data.version, "1.2.3");
  });

  it("GET /health/deep probes D1, KV and R2", async () => {
    const env = await makeEnv();
    const { status, data } = await call(worker, env, "GET", "/health/deep");
    assert.equal(status, 200);
    assert.deepEqual(data.checks, { d1: "ok", kv: "ok", r2: "ok" });
  });

  it("GET /health/deep is 503 when a binding fails", async () => {
    const env = await makeEnv();
    env.UPLOADS.head = async () => {
      throw new Error("bucket unavailable");
    };
    const { status, data } = await call(worker, env, "GET", "/health/deep");
    assert.equal(status, 503);
    assert.equal(data.ok, false);
    assert.equal(data.checks.r2, "error: bucket unavailable");
  });
});

describe("routing", () => {
  it("404 for unknown paths, 405 with Allow for wrong methods, 204 for preflight", async () => {
    const env = await makeEnv();
    assert.equal((await call(worker, env, "GET", "/nope")).status, 404);
    const wrong = await call(worker, env, "PATCH", "/api/observations/1");
    assert.equal(wrong.status, 405);
    assert.equal(wrong.response.headers.get("allow"), "GET, PUT, DELETE");
    const pre = await call(worker, env, "OPTIONS", "/api/observations");
    assert.equal(pre.status, 204);
    assert.match(pre.response.headers.get("access-control-allow-methods") ?? "", /POST/);
  });
});

describe("sessions", () => {
  it("creates a session in KV and reads it back", async () => {
    const env = await makeEnv();
    const token = await signIn(worker, env);
    assert.match(token, /^[0-9a-f]{64}$/);
    const stored = await env.SESSIONS.get(`session:${token}`, { type: "json" });
    assert.equal(stored.name, "Ada");
    const me = await call(worker, env, "GET", "/api/me", { token });
    assert.equal(me.status, 200);
    assert.equal(me.data.name, "Ada");
    assert.equal((await call(worker, env, "DELETE", "/api/sessions", { token })).status, 200);
    assert.equal((await call(worker, env, "GET", "/api/me", { token })).status, 401);
  });

  it("expires sessions after their TTL", async () => {
    let now = Date.parse("2026-11-01T00:00:00Z");
    const env = await makeEnv({ now: () => now });
    const token = await signIn(worker, env);
    now += 8 * 24 * 3600 * 1000;
    const me = await call(worker, env, "GET", "/api/me", { token });
    assert.equal(me.status, 401);
    assert.equal(me.data.error, "session_expired");
  });

  it("signing in twice with one e-mail keeps one user", async () => {
    const env = await makeEnv();
    await signIn(worker, env, "Ada", "ada@example.org");
    await signIn(worker, env, "Ada L.", "ADA@example.org");
    const users = await env.DB.prepare("SELECT name FROM users").all();
    assert.deepEqual(users.results, [{ name: "Ada L." }]);
  });
});

describe("observations", () => {
  /** @type {Awaited<ReturnType<typeof makeEnv>>} */
  let env;
  beforeEach(async () => {
    env = await makeEnv({ seed: true });
  });

  it("lists the seeded observations newest first, with paging", async () => {
    const first = await call(worker, env, "GET", "/api/observations?limit=2");
    assert.equal(first.status, 200);
    assert.deepEqual(first.data.items.map((o) => o.target), ["NGC 7000", "M42"]);
    assert.equal(first.data.nextCursor, "2");
    const second = await call(worker, env, "GET", `/api/observations?limit=2&cursor=${first.data.nextCursor}`);
    assert.deepEqual(second.data.items.map((o) => o.target), ["M31"]);
    assert.equal(second.data.nextCursor, null);
  });

  it("caches list pages in KV and a write invalidates them", async () => {
    assert.equal((await call(worker, env, "GET", "/api/observations")).response.headers.get("x-cache"), "miss");
    assert.equal((await call(worker, env, "GET", "/api/observations")).response.headers.get("x-cache"), "hit");
    const token = await signIn(worker, env, "Carl", "carl@example.org");
    const created = await call(worker, env, "POST", "/api/observations", {
      token,
      json: { target: "M13", observedAt: "2026-07-01T23:00:00Z", seeing: 2 },
    });
    assert.equal(created.status, 201);
    const after = await call(worker, env, "GET", "/api/observations");
    assert.equal(after.response.headers.get("x-cache"), "miss");
    assert.equal(after.data.items[0].target, "M13");
  });

  it("requires a session to create, and validates the body", async () => {
    const anonymous = await call(worker, env, "POST", "/api/observations", { json: { target: "M1" } });
    assert.equal(anonymous.status, 401);
    const token = await signIn(worker, env);
    const invalid = await call(worker, env, "POST", "/api/observations", { token, json: { target: "M1", seeing: 0 } });
    assert.equal(invalid.status, 422);
    assert.deepEqual(Object.keys(invalid.data.fields).sort(), ["observedAt", "seeing"]);
    const notJson = await call(worker, env, "POST", "/api/observations", { token, body: "x", headers: { "content-type": "text/plain" } });
    assert.equal(notJson.status, 415);
  });

  it("only the author may update or delete", async () => {
    const carl = await signIn(worker, env, "Carl", "carl@example.org");
    const ada = await signIn(worker, env, "Ada", "ada@example.org");
    const body = { target: "M31", observedAt: "2026-09-20T21:40:00Z", seeing: 1, notes: "better" };
    assert.equal((await call(worker, env, "PUT", "/api/observations/1", { token: carl, json: body })).status, 403);
    const updated = await call(worker, env, "PUT", "/api/observations/1", { token: ada, json: body });
    assert.equal(updated.status, 200);
    assert.equal(updated.data.item.seeing, 1);
    assert.equal(updated.data.item.notes, "better");
    assert.equal((await call(worker, env, "DELETE", "/api/observations/1", { token: ada })).status, 200);
    assert.equal((await call(worker, env, "GET", "/api/observations/1")).status, 404);
    assert.equal((await call(worker, env, "GET", "/api/observations/abc")).status, 400);
  });
});

describe("uploads", () => {
  it("stores an image in R2 with a D1 row and serves it back", async () => {
    const env = await makeEnv();
    const token = await signIn(worker, env);
    const bytes = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]);
    const put = await call(worker, env, "PUT", "/api/uploads/m31.jpg", { token, body: bytes, headers: { "content-type": "image/jpeg" } });
    assert.equal(put.status, 201);
    assert.equal(put.data.key, "users/1/m31.jpg");
    assert.equal(put.data.size, bytes.byteLength);
    const row = await env.DB.prepare("SELECT user_id, content_type, size FROM uploads WHERE key = ?").bind("users/1/m31.jpg").first();
    assert.deepEqual(row, { user_id: 1, content_type: "image/jpeg", size: 7 });

    const got = await call(worker, env, "GET", "/api/uploads/1/m31.jpg");
    assert.equal(got.status, 200);
    assert.equal(got.response.headers.get("content-type"), "image/jpeg");
    assert.deepEqual(new Uint8Array(await got.response.arrayBuffer()), bytes);

    const stats = await call(worker, env, "GET", "/api/stats");
    assert.equal(stats.data.uploads, 1);
    assert.equal(stats.data.uploadBytes, 7);
  });

  it("rejects wrong types, empty bodies and bad names", async () => {
    const env = await makeEnv();
    const token = await signIn(worker, env);
    const headers = { "content-type": "text/html" };
    assert.equal((await call(worker, env, "PUT", "/api/uploads/x.html", { token, body: "<p>", headers })).status, 415);
    const jpeg = { "content-type": "image/jpeg" };
    assert.equal((await call(worker, env, "PUT", "/api/uploads/x.jpg", { token, body: "", headers: jpeg })).status, 400);
    assert.equal((await call(worker, env, "PUT", "/api/uploads/.hidden", { token, body: "a", headers: jpeg })).status, 400);
    assert.equal((await call(worker, env, "GET", "/api/uploads/1/missing.jpg")).status, 404);
  });
});
