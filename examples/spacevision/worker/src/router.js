// A tiny method + path router: patterns like "/api/observations/:id" with named params.

/**
 * @typedef {{ request: Request, env: Env, ctx: ExecutionContext, url: URL, params: Record<string, string> }} RouteContext
 * @typedef {(c: RouteContext) => Promise<Response> | Response} Handler
 * @typedef {object} Env
 * @property {KVNamespace} SESSIONS
 * @property {KVNamespace} CACHE
 * @property {D1Database} DB
 * @property {R2Bucket} UPLOADS
 * @property {string} [ALLOWED_ORIGIN]
 * @property {string} [APP_VERSION]
 * @typedef {any} KVNamespace
 * @typedef {any} D1Database
 * @typedef {any} R2Bucket
 * @typedef {{ waitUntil(p: Promise<unknown>): void }} ExecutionContext
 */

export class Router {
  constructor() {
    /** @type {{ method: string, parts: string[], handler: Handler }[]} */
    this.routes = [];
  }

  /**
   * @param {string} method
   * @param {string} pattern
   * @param {Handler} handler
   */
  on(method, pattern, handler) {
    this.routes.push({ method, parts: pattern.split("/").filter(Boolean), handler });
    return this;
  }

  /**
   * Finds the handler for a request: `{ handler, params }`, or `{ allowed }` listing the
   * methods the path supports when none matches the method (for 405).
   * @param {string} method
   * @param {string} pathname
   */
  match(method, pathname) {
    const segments = pathname.split("/").filter(Boolean).map(decodeURIComponent);
    /** @type {string[]} */
    const allowed = [];
    for (const route of this.routes) {
      const params = matchParts(route.parts, segments);
      if (!params) continue;
      if (route.method === method) return { handler: route.handler, params, allowed };
      allowed.push(route.method);
    }
    return { handler: null, params: {}, allowed };
  }
}

/**
 * @param {string[]} parts
 * @param {string[]} segments
 * @returns {Record<string, string> | null}
 */
function matchParts(parts, segments) {
  if (parts.length !== segments.length) return null;
  /** @type {Record<string, string>} */
  const params = {};
  for (let i = 0; i < parts.length; i += 1) {
    if (parts[i].startsWith(":")) params[parts[i].slice(1)] = segments[i];
    else if (parts[i] !== segments[i]) return null;
  }
  return params;
}
