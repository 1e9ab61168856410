// A small client for the SpaceVision API. Takes `fetch` as a parameter so tests can run
// it against the worker's own handler without a network.

import { validateObservation } from "@spacevision/shared";

export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {import("@spacevision/shared").ApiError} body
   */
  constructor(status, body) {
    super(body.message || `HTTP ${status}`);
    this.status = status;
    this.code = body.error;
    this.fields = body.fields || {};
  }
}

export class SpaceVisionClient {
  /**
   * @param {string} baseUrl
   * @param {typeof fetch} fetchImpl
   */
  constructor(baseUrl, fetchImpl = globalThis.fetch.bind(globalThis)) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.fetch = fetchImpl;
    /** @type {string | null} */
    this.token = null;
  }

  /**
   * @param {string} method
   * @param {string} path
   * @param {{ json?: unknown, body?: BodyInit, contentType?: string }} [options]
   */
  async request(method, path, options = {}) {
    /** @type {Record<string, string>} */
    const headers = {};
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let body = options.body;
    if (options.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(options.json);
    } else if (options.contentType) {
      headers["content-type"] = options.contentType;
    }
    const response = await this.fetch(`${this.baseUrl}${path}`, { method, headers, body });
    const data = await response.json();
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  /** @param {string} name @param {string} email */
  async signIn(name, email) {
    const data = await this.request("POST", "/api/sessions", { json: { name, email } });
    this.token = data.token;
    return data;
  }

  /** @param {{ limit?: number, cursor?: string | null }} [page] */
  async listObservations(page = {}) {
    const query = new URLSearchParams();
    if (page.limit) query.set("limit", String(page.limit));
    if (page.cursor) query.set("cursor", page.cursor);
    const suffix = query.size > 0 ? `?${query}` : "";
    return this.request("GET", `/api/observations${suffix}`);
  }

  /** @param {unknown} observation */
  async createObservation(observation) {
    const checked = validateObservation(observation);
    if (!checked.ok) throw new ApiError(422, { ok: false, error: "validation_failed", message: "invalid observation", fields: checked.fields });
    return this.request("POST", "/api/observations", { json: checked.value });
  }

  /** @param {string} name @param {Blob} file */
  async upload(name, file) {
    return this.request("PUT", `/api/uploads/${encodeURIComponent(name)}`, { body: file, contentType: file.type });
  }
}
