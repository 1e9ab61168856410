// Images attached to observations, stored in R2 under `users/<userId>/<name>` with a row
// in D1 so that ownership and size are queryable without listing the bucket.

import { ALLOWED_UPLOAD_TYPES, MAX_UPLOAD_BYTES, isValidUploadKey } from "@spacevision/shared";
import { requireSession } from "../auth.js";
import { HttpError, json } from "../http.js";

/**
 * @param {number} userId
 * @param {string} name
 */
export function objectKey(userId, name) {
  return `users/${userId}/${name}`;
}

/** @param {import("../router.js").RouteContext} c */
export async function putUpload({ request, env, params }) {
  const session = await requireSession(request, env);
  if (!isValidUploadKey(params.name)) throw new HttpError(400, "invalid_key", "letters, digits, '.', '_' and '-' only");
  const contentType = (request.headers.get("content-type") || "").split(";")[0].trim();
  if (!ALLOWED_UPLOAD_TYPES.includes(contentType)) {
    throw new HttpError(415, "unsupported_media_type", `allowed types: ${ALLOWED_UPLOAD_TYPES.join(", ")}`);
  }
  const declared = Number(request.headers.get("content-length") || "0");
  if (declared > MAX_UPLOAD_BYTES) throw new HttpError(413, "too_large", `at most ${MAX_UPLOAD_BYTES} bytes`);
  const body = await request.arrayBuffer();
  if (body.byteLength > MAX_UPLOAD_BYTES) throw new HttpError(413, "too_large", `at most ${MAX_UPLOAD_BYTES} bytes`);
  if (body.byteLength === 0) throw new HttpError(400, "empty", "the upload is empty");

  const key = objectKey(session.userId, params.name);
  const object = await env.UPLOADS.put(key, body, {
    httpMetadata: { contentType },
    customMetadata: { userId: String(session.userId) },
  });
  await env.DB.prepare(
    "INSERT INTO uploads (key, user_id, content_type, size) VALUES (?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET content_type = excluded.content_type, size = excluded.size",
  )
    .bind(key, session.userId, contentType, body.byteLength)
    .run();
  return json({ ok: true, key, size: body.byteLength, etag: object?.etag ?? null }, 201);
}

/** @param {import("../router.js").RouteContext} c */
export async function getUpload({ env, params }) {
  const userId = Number(params.userId);
  if (!Number.isSafeInteger(userId) || userId < 1 || !isValidUploadKey(params.name)) {
    throw new HttpError(400, "invalid_key", "not an upload path");
  }
  const object = await env.UPLOADS.get(objectKey(userId, params.name));
  if (!object) throw new HttpError(404, "not_found", "no such upload");
  const headers = new Headers();
  object.writeHttpMetadata(headers);
  headers.set("etag", object.httpEtag);
  headers.set("cache-control", "public, max-age=3600");
  return new Response(object.body, { status: 200, headers });
}

/** @param {import("../router.js").RouteContext} c */
export async function deleteUpload({ request, env, params }) {
  const session = await requireSession(request, env);
  if (!isValidUploadKey(params.name)) throw new HttpError(400, "invalid_key", "not an upload name");
  const key = objectKey(session.userId, params.name);
  await env.UPLOADS.delete(key);
  await env.DB.prepare("DELETE FROM uploads WHERE key = ?").bind(key).run();
  return json({ ok: true, deleted: key });
}
