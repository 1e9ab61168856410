// Sign-in is deliberately simple (name + e-mail, no password): the example exists to
// exercise KV and D1, not to be an identity provider.

import { SESSION_TTL_SECONDS, validateSignIn } from "@spacevision/shared";
import { createSession, deleteSession, requireSession } from "../auth.js";
import { HttpError, json, readJson } from "../http.js";

/** @param {import("../router.js").RouteContext} c */
export async function signIn({ request, env }) {
  const result = validateSignIn(await readJson(request));
  if (!result.ok) throw new HttpError(422, "validation_failed", "check the highlighted fields", result.fields);
  const { name, email } = result.value;
  const row = await env.DB.prepare(
    "INSERT INTO users (email, name) VALUES (?, ?) ON CONFLICT(email) DO UPDATE SET name = excluded.name RETURNING id",
  )
    .bind(email, name)
    .first();
  if (!row) throw new HttpError(500, "internal", "could not create the user");
  const token = await createSession(env, { userId: Number(row.id), name });
  return json({ ok: true, token, userId: Number(row.id), expiresIn: SESSION_TTL_SECONDS }, 201);
}

/** @param {import("../router.js").RouteContext} c */
export async function signOut({ request, env }) {
  const session = await requireSession(request, env);
  await deleteSession(env, session.token);
  return json({ ok: true });
}

/** @param {import("../router.js").RouteContext} c */
export async function whoAmI({ request, env }) {
  const { userId, name, createdAt } = await requireSession(request, env);
  return json({ ok: true, userId, name, createdAt });
}
