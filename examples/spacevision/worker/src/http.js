// Response helpers: every API answer is JSON with an `ok` flag, and carries CORS headers
// for the web app's origin.

/**
 * @param {unknown} body
 * @param {number} [status]
 * @param {HeadersInit} [headers]
 */
export function json(body, status = 200, headers = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

/**
 * @param {number} status
 * @param {string} code
 * @param {string} message
 * @param {Record<string, string>} [fields]
 */
export function error(status, code, message, fields) {
  /** @type {import("@spacevision/shared").ApiError} */
  const body = { ok: false, error: code, message };
  if (fields) body.fields = fields;
  return json(body, status);
}

/** Thrown by handlers to end a request with an error response. */
export class HttpError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   * @param {Record<string, string>} [fields]
   */
  constructor(status, code, message, fields) {
    super(message);
    this.status = status;
    this.code = code;
    this.fields = fields;
  }

  toResponse() {
    return error(this.status, this.code, this.message, this.fields);
  }
}

/**
 * Reads a JSON body or throws a 400.
 * @param {Request} request
 * @returns {Promise<unknown>}
 */
export async function readJson(request) {
  const type = request.headers.get("content-type") || "";
  if (!type.includes("application/json")) {
    throw new HttpError(415, "unsupported_media_type", "send Content-Type: application/json");
  }
  try {
    return await request.json();
  } catch {
    throw new HttpError(400, "invalid_json", "the body is not valid JSON");
  }
}

/**
 * Adds CORS headers for the configured origin.
 * @param {Response} response
 * @param {string} origin
 */
export function withCors(response, origin) {
  const headers = new Headers(response.headers);
  headers.set("access-control-allow-origin", origin);
  headers.set("access-control-allow-methods", "GET, POST, PUT, DELETE, OPTIONS");
  headers.set("access-control-allow-headers", "authorization, content-type");
  headers.set("access-control-max-age", "86400");
  headers.append("vary", "origin");
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}
