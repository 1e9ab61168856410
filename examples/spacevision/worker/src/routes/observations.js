// Observations CRUD on D1. Public list pages are cached in the CACHE KV namespace; the
// cache key carries a generation number that every write bumps, so a write invalidates
// every cached page without listing keys.

import { LIST_CACHE_TTL_SECONDS, parseLimit, validateObservation } from "@spacevision/shared";
import { requireSession } from "../auth.js";
import { HttpError, json, readJson } from "../http.js";

const COLUMNS = "id, user_id, target, observed_at, seeing, notes, image_key, created_at";

/**
 * @param {Record<string, any>} row
 * @returns {import("@spacevision/shared").Observation}
 */
export function toObservation(row) {
  return {
    id: Number(row.id),
    userId: Number(row.user_id),
    target: row.target,
    observedAt: row.observed_at,
    seeing: row.seeing,
    notes: row.notes ?? "",
    imageKey: row.image_key ?? null,
    createdAt: row.created_at,
  };
}

/** @param {import("../router.js").Env} env */
async function cacheGeneration(env) {
  return (await env.CACHE.get("observations:generation")) || "0";
}

/** @param {import("../router.js").Env} env */
async function bumpGeneration(env) {
  const next = String(Number(await cacheGeneration(env)) + 1);
  await env.CACHE.put("observations:generation", next);
}

/** @param {string} raw */
function parseId(raw) {
  const id = Number(raw);
  if (!Number.isSafeInteger(id) || id < 1) throw new HttpError(400, "invalid_id", "the id must be a positive integer");
  return id;
}

/** @param {import("../router.js").RouteContext} c */
export async function listObservations({ env, url, ctx }) {
  const limit = parseLimit(url.searchParams.get("limit"));
  if (!limit.ok) throw new HttpError(400, "invalid_query", "check the query parameters", limit.fields);
  const cursorRaw = url.searchParams.get("cursor");
  const cursor = cursorRaw ? parseId(cursorRaw) : null;

  const key = `observations:list:${await cacheGeneration(env)}:${limit.value}:${cursor ?? "first"}`;
  const cached = await env.CACHE.get(key, { type: "json" });
  if (cached) return json(cached, 200, { "x-cache": "hit" });

  const statement = cursor
    ? env.DB.prepare(`SELECT ${COLUMNS} FROM observations WHERE id < ? ORDER BY id DESC LIMIT ?`).bind(cursor, limit.value + 1)
    : env.DB.prepare(`SELECT ${COLUMNS} FROM observations ORDER BY id DESC LIMIT ?`).bind(limit.value + 1);
  const { results } = await statement.all();
  const items = results.slice(0, limit.value).map(toObservation);
  const nextCursor = results.length > limit.value ? String(items[items.length - 1].id) : null;
  const body = { ok: true, items, nextCursor };
  ctx.waitUntil(env.CACHE.put(key, JSON.stringify(body), { expirationTtl: LIST_CACHE_TTL_SECONDS }));
  return json(body, 200, { "x-cache": "miss" });
}

/** @param {import("../router.js").RouteContext} c */
export async function getObservation({ env, params }) {
  const row = await env.DB.prepare(`SELECT ${COLUMNS} FROM observations WHERE id = ?`).bind(parseId(params.id)).first();
  if (!row) throw new HttpError(404, "not_found", `no observation ${params.id}`);
  return json({ ok: true, item: toObservation(row) });
}

/** @param {import("../router.js").RouteContext} c */
export async function createObservation({ request, env }) {
  const session = await requireSession(request, env);
  const result = validateObservation(await readJson(request));
  if (!result.ok) throw new HttpError(422, "validation_failed", "check the highlighted fields", result.fields);
  const o = result.value;
  const row = await env.DB.prepare(
    `INSERT INTO observations (user_id, target, observed_at, seeing, notes, image_key) VALUES (?, ?, ?, ?, ?, ?) RETURNING ${COLUMNS}`,
  )
    .bind(session.userId, o.target, o.observedAt, o.seeing, o.notes ?? "", o.imageKey ?? null)
    .first();
  await bumpGeneration(env);
  return json({ ok: true, item: toObservation(row) }, 201);
}

/**
 * Loads an observation and checks the session owns it.
 * @param {import("../router.js").Env} env
 * @param {number} id
 * @param {number} userId
 */
async function ownedObservation(env, id, userId) {
  const row = await env.DB.prepare(`SELECT ${COLUMNS} FROM observations WHERE id = ?`).bind(id).first();
  if (!row) throw new HttpError(404, "not_found", `no observation ${id}`);
  if (Number(row.user_id) !== userId) throw new HttpError(403, "forbidden", "only the author can change an observation");
  return row;
}

/** @param {import("../router.js").RouteContext} c */
export async function updateObservation({ request, env, params }) {
  const session = await requireSession(request, env);
  const id = parseId(params.id);
  await ownedObservation(env, id, session.userId);
  const result = validateObservation(await readJson(request));
  if (!result.ok) throw new HttpError(422, "validation_failed", "check the highlighted fields", result.fields);
  const o = result.value;
  const row = await env.DB.prepare(
    `UPDATE observations SET target = ?, observed_at = ?, seeing = ?, notes = ?, image_key = ? WHERE id = ? RETURNING ${COLUMNS}`,
  )
    .bind(o.target, o.observedAt, o.seeing, o.notes ?? "", o.imageKey ?? null, id)
    .first();
  await bumpGeneration(env);
  return json({ ok: true, item: toObservation(row) });
}

/** @param {import("../router.js").RouteContext} c */
export async function deleteObservation({ request, env, params }) {
  const session = await requireSession(request, env);
  const id = parseId(params.id);
  await ownedObservation(env, id, session.userId);
  await env.DB.prepare("DELETE FROM observations WHERE id = ?").bind(id).run();
  await bumpGeneration(env);
  return json({ ok: true, deleted: id });
}
