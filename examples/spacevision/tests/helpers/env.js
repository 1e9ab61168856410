// Builds a worker `env` with fresh fakes, applies the real migrations (and optionally
// the seed), and calls the worker like the runtime would, waiting for `waitUntil` work.

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { FakeD1 } from "./d1.js";
import { FakeKV } from "./kv.js";
import { FakeR2 } from "./r2.js";

export const workerDir = fileURLToPath(new URL("../../worker/", import.meta.url));
export const webDir = fileURLToPath(new URL("../../web/", import.meta.url));

/** @param {{ seed?: boolean, now?: () => number, vars?: Record<string, string> }} [options] */
export async function makeEnv(options = {}) {
  const now = options.now ?? (() => Date.now());
  const env = {
    SESSIONS: new FakeKV({ now }),
    CACHE: new FakeKV({ now }),
    DB: new FakeD1(),
    UPLOADS: new FakeR2({ now }),
    ALLOWED_ORIGIN: "https://spacevision.test",
    ...options.vars,
  };
  await env.DB.applyMigrations(`${workerDir}migrations`);
  if (options.seed) await env.DB.exec(readFileSync(`${workerDir}seed.sql`, "utf8"));
  return env;
}

export function makeCtx() {
  /** @type {Promise<unknown>[]} */
  const pending = [];
  return {
    pending,
    /** @param {Promise<unknown>} p */
    waitUntil(p) {
      pending.push(p);
    },
    passThroughOnException() {},
  };
}

/**
 * Sends one request to a worker module and returns the response plus its parsed body.
 * @param {{ fetch: Function }} worker
 * @param {Record<string, unknown>} env
 * @param {string} method
 * @param {string} path
 * @param {{ json?: unknown, body?: BodyInit, headers?: Record<string, string>, token?: string }} [options]
 */
export async function call(worker, env, method, path, options = {}) {
  /** @type {Record<string, string>} */
  const headers = { ...options.headers };
  let body = options.body;
  if (options.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(options.json);
  }
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const ctx = makeCtx();
  const response = await worker.fetch(new Request(`https://api.spacevision.test${path}`, { method, headers, body }), env, ctx);
  await Promise.all(ctx.pending);
  const type = response.headers.get("content-type") || "";
  const data = type.includes("application/json") ? await response.json() : null;
  return { response, status: response.status, data };
}

/**
 * Adapts the worker into a `fetch` function, for testing the web client against it.
 * @param {{ fetch: Function }} worker
 * @param {Record<string, unknown>} env
 */
export function fetchVia(worker, env) {
  return async (/** @type {string} */ url, /** @type {RequestInit} */ init) => {
    const ctx = makeCtx();
    const response = await worker.fetch(new Request(url, init), env, ctx);
    await Promise.all(ctx.pending);
    return response;
  };
}

/** Signs in and returns the bearer token. */
export async function signIn(worker, env, name = "Ada", email = "ada@example.org") {
  const { status, data } = await call(worker, env, "POST", "/api/sessions", { json: { name, email } });
  if (status !== 201) throw new Error(`sign-in failed: ${status} ${JSON.stringify(data)}`);
  return /** @type {string} */ (data.token);
}
