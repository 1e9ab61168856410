// Validation used on both sides: the web app checks before sending, the worker checks
// again before writing. Each function returns a result instead of throwing, so callers
// can report every field at once.

import { MAX_NOTES_LENGTH, MAX_TARGET_LENGTH, MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE } from "./constants.js";

/**
 * @template T
 * @typedef {{ ok: true, value: T } | { ok: false, fields: Record<string, string> }} Result
 */

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?Z$/;
const UPLOAD_KEY = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * Checks and normalises a client-supplied observation.
 * @param {unknown} input
 * @returns {Result<import("./types.js").NewObservation>}
 */
export function validateObservation(input) {
  /** @type {Record<string, string>} */
  const fields = {};
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    return { ok: false, fields: { body: "expected a JSON object" } };
  }
  const raw = /** @type {Record<string, unknown>} */ (input);

  const target = typeof raw.target === "string" ? raw.target.trim() : "";
  if (!target) fields.target = "required";
  else if (target.length > MAX_TARGET_LENGTH) fields.target = `at most ${MAX_TARGET_LENGTH} characters`;

  const observedAt = typeof raw.observedAt === "string" ? raw.observedAt : "";
  if (!ISO_UTC.test(observedAt) || Number.isNaN(Date.parse(observedAt))) {
    fields.observedAt = "an ISO 8601 UTC timestamp, e.g. 2026-01-31T21:15:00Z";
  } else if (Date.parse(observedAt) > Date.now() + 60_000) {
    fields.observedAt = "cannot be in the future";
  }

  const seeing = raw.seeing;
  if (!Number.isInteger(seeing) || /** @type {number} */ (seeing) < 1 || /** @type {number} */ (seeing) > 5) {
    fields.seeing = "an integer from 1 (perfect) to 5 (very poor)";
  }

  let notes = "";
  if (raw.notes !== undefined && raw.notes !== null) {
    if (typeof raw.notes !== "string") fields.notes = "must be text";
    else if (raw.notes.length > MAX_NOTES_LENGTH) fields.notes = `at most ${MAX_NOTES_LENGTH} characters`;
    else notes = raw.notes;
  }

  let imageKey = null;
  if (raw.imageKey !== undefined && raw.imageKey !== null) {
    if (typeof raw.imageKey !== "string" || !UPLOAD_KEY.test(raw.imageKey)) fields.imageKey = "not a valid upload key";
    else imageKey = raw.imageKey;
  }

  const known = new Set(["target", "observedAt", "seeing", "notes", "imageKey"]);
  for (const key of Object.keys(raw)) {
    if (!known.has(key)) fields[key] = "unknown field";
  }

  if (Object.keys(fields).length > 0) return { ok: false, fields };
  return {
    ok: true,
    value: { target, observedAt, seeing: /** @type {number} */ (seeing), notes, imageKey },
  };
}

/**
 * Checks a file name a client wants to upload under.
 * @param {string} key
 * @returns {boolean}
 */
export function isValidUploadKey(key) {
  return UPLOAD_KEY.test(key);
}

/**
 * Parses `?limit=` with a default and an upper bound.
 * @param {string|null} value
 * @returns {Result<number>}
 */
export function parseLimit(value) {
  if (value === null || value === "") return { ok: true, value: DEFAULT_PAGE_SIZE };
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE_SIZE) {
    return { ok: false, fields: { limit: `an integer from 1 to ${MAX_PAGE_SIZE}` } };
  }
  return { ok: true, value: n };
}

/**
 * Checks a display name and e-mail for a new session.
 * @param {unknown} input
 * @returns {Result<{ name: string, email: string }>}
 */
export function validateSignIn(input) {
  if (input === null || typeof input !== "object") return { ok: false, fields: { body: "expected a JSON object" } };
  const raw = /** @type {Record<string, unknown>} */ (input);
  /** @type {Record<string, string>} */
  const fields = {};
  const name = typeof raw.name === "string" ? raw.name.trim() : "";
  const email = typeof raw.email === "string" ? raw.email.trim().toLowerCase() : "";
  if (!name || name.length > 80) fields.name = "1 to 80 characters";
  if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) fields.email = "a valid e-mail address";
  if (Object.keys(fields).length > 0) return { ok: false, fields };
  return { ok: true, value: { name, email } };
}
