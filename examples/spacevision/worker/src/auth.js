// Sessions live in the SESSIONS KV namespace under `session:<token>` and expire by TTL,
// so signing out everywhere is just letting the keys expire.

import { SESSION_TTL_SECONDS } from "@spacevision/shared";
import { HttpError } from "./http.js";

/**
 * @param {import("./router.js").Env} env
 * @param {{ userId: number, name: string }} user
 * @returns {Promise<string>} the new bearer token
 */
export async function createSession(env, user) {
  const token = crypto.randomUUID().replaceAll("-", "") + crypto.randomUUID().replaceAll("-", "");
  /** @type {import("@spacevision/shared").Session} */
  const session = { userId: user.userId, name: user.name, createdAt: new Date().toISOString() };
  await env.SESSIONS.put(`session:${token}`, JSON.stringify(session), { expirationTtl: SESSION_TTL_SECONDS });
  return token;
}

/**
 * The session for the request's bearer token, or a 401.
 * @param {Request} request
 * @param {import("./router.js").Env} env
 * @returns {Promise<import("@spacevision/shared").Session & { token: string }>}
 */
export async function requireSession(request, env) {
  const header = request.headers.get("authorization") || "";
  const match = /^Bearer ([0-9a-f]{64})$/.exec(header);
  if (!match) throw new HttpError(401, "unauthenticated", "send Authorization: Bearer <token>");
  const session = await env.SESSIONS.get(`session:${match[1]}`, { type: "json" });
  if (!session) throw new HttpError(401, "session_expired", "the session is unknown or expired; sign in again");
  return { ...session, token: match[1] };
}

/**
 * @param {import("./router.js").Env} env
 * @param {string} token
 */
export async function deleteSession(env, token) {
  await env.SESSIONS.delete(`session:${token}`);
}
