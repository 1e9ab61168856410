// In-memory stand-in for a Workers KV namespace binding (get/put/delete/list with TTLs).
// The clock is injectable so expiry is testable without waiting.

export class FakeKV {
  /** @param {{ now?: () => number }} [options] */
  constructor(options = {}) {
    this.now = options.now ?? (() => Date.now());
    /** @type {Map<string, { value: string, expiresAt: number | null, metadata: unknown }>} */
    this.entries = new Map();
  }

  /** @param {string} key */
  live(key) {
    const entry = this.entries.get(key);
    if (!entry) return null;
    if (entry.expiresAt !== null && entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return null;
    }
    return entry;
  }

  /**
   * @param {string} key
   * @param {string | { type?: string } } [options]
   */
  async get(key, options) {
    const type = typeof options === "string" ? options : options?.type ?? "text";
    const entry = this.live(key);
    if (!entry) return null;
    if (type === "json") return JSON.parse(entry.value);
    if (type === "text") return entry.value;
    if (type === "arrayBuffer") return new TextEncoder().encode(entry.value).buffer;
    throw new TypeError(`FakeKV: unsupported type ${type}`);
  }

  /**
   * @param {string} key
   * @param {string} value
   * @param {{ expirationTtl?: number, expiration?: number, metadata?: unknown }} [options]
   */
  async put(key, value, options = {}) {
    if (typeof value !== "string") throw new TypeError("FakeKV: only string values are supported");
    if (options.expirationTtl !== undefined && options.expirationTtl < 60) {
      // Same rule as Cloudflare: TTLs under 60 seconds are rejected.
      throw new Error(`KV PUT failed: 400 Invalid expiration_ttl of ${options.expirationTtl}`);
    }
    let expiresAt = null;
    if (options.expirationTtl !== undefined) expiresAt = this.now() + options.expirationTtl * 1000;
    if (options.expiration !== undefined) expiresAt = options.expiration * 1000;
    this.entries.set(key, { value, expiresAt, metadata: options.metadata ?? null });
  }

  /** @param {string} key */
  async delete(key) {
    this.entries.delete(key);
  }

  /** @param {{ prefix?: string, limit?: number, cursor?: string }} [options] */
  async list(options = {}) {
    const prefix = options.prefix ?? "";
    const limit = options.limit ?? 1000;
    const start = options.cursor ? Number(options.cursor) : 0;
    const names = [...this.entries.keys()].filter((k) => k.startsWith(prefix) && this.live(k)).sort();
    const page = names.slice(start, start + limit);
    const done = start + limit >= names.length;
    return {
      keys: page.map((name) => {
        const e = /** @type {NonNullable<ReturnType<FakeKV["live"]>>} */ (this.live(name));
        return { name, ...(e.expiresAt ? { expiration: Math.floor(e.expiresAt / 1000) } : {}), metadata: e.metadata };
      }),
      list_complete: done,
      ...(done ? {} : { cursor: String(start + limit) }),
    };
  }
}
