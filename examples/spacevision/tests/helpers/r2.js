// In-memory stand-in for an R2 bucket binding: put/get/head/delete/list with the object
// shapes Workers code relies on (httpMetadata, writeHttpMetadata, httpEtag, body stream).

import { createHash } from "node:crypto";

/** @param {unknown} value @returns {Promise<Uint8Array>} */
async function toBytes(value) {
  if (value === null || value === undefined) return new Uint8Array();
  if (typeof value === "string") return new TextEncoder().encode(value);
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (value instanceof ArrayBuffer) return new Uint8Array(value.slice(0));
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength));
  if (value instanceof Blob) return new Uint8Array(await value.arrayBuffer());
  if (value instanceof ReadableStream) return new Uint8Array(await new Response(value).arrayBuffer());
  throw new TypeError("FakeR2: unsupported body type");
}

class FakeR2Object {
  /** @param {string} key @param {Uint8Array} bytes @param {any} options @param {Date} uploaded */
  constructor(key, bytes, options, uploaded) {
    this.key = key;
    this.size = bytes.byteLength;
    this.etag = createHash("md5").update(bytes).digest("hex");
    this.httpEtag = `"${this.etag}"`;
    this.uploaded = uploaded;
    this.httpMetadata = { ...(options.httpMetadata ?? {}) };
    this.customMetadata = { ...(options.customMetadata ?? {}) };
  }

  /** @param {Headers} headers */
  writeHttpMetadata(headers) {
    if (this.httpMetadata.contentType) headers.set("content-type", this.httpMetadata.contentType);
    if (this.httpMetadata.cacheControl) headers.set("cache-control", this.httpMetadata.cacheControl);
  }
}

class FakeR2ObjectBody extends FakeR2Object {
  /** @param {FakeR2Object} meta @param {Uint8Array} bytes */
  constructor(meta, bytes) {
    super(meta.key, bytes, meta, meta.uploaded);
    this.bytes = bytes;
  }

  get body() {
    const bytes = this.bytes;
    return new ReadableStream({
      start(controller) {
        controller.enqueue(bytes);
        controller.close();
      },
    });
  }

  async arrayBuffer() {
    return this.bytes.buffer.slice(this.bytes.byteOffset, this.bytes.byteOffset + this.bytes.byteLength);
  }

  async text() {
    return new TextDecoder().decode(this.bytes);
  }
}

export class FakeR2 {
  /** @param {{ now?: () => number }} [options] */
  constructor(options = {}) {
    this.now = options.now ?? (() => Date.now());
    /** @type {Map<string, { meta: FakeR2Object, bytes: Uint8Array }>} */
    this.objects = new Map();
  }

  /** @param {string} key @param {unknown} value @param {any} [options] */
  async put(key, value, options = {}) {
    const bytes = await toBytes(value);
    const meta = new FakeR2Object(key, bytes, options, new Date(this.now()));
    this.objects.set(key, { meta, bytes });
    return meta;
  }

  /** @param {string} key */
  async get(key) {
    const entry = this.objects.get(key);
    return entry ? new FakeR2ObjectBody(entry.meta, entry.bytes) : null;
  }

  /** @param {string} key */
  async head(key) {
    return this.objects.get(key)?.meta ?? null;
  }

  /** @param {string | string[]} keys */
  async delete(keys) {
    for (const key of Array.isArray(keys) ? keys : [keys]) this.objects.delete(key);
  }

  /** @param {{ prefix?: string, limit?: number, cursor?: string }} [options] */
  async list(options = {}) {
    const prefix = options.prefix ?? "";
    const limit = options.limit ?? 1000;
    const start = options.cursor ? Number(options.cursor) : 0;
    const keys = [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort();
    const page = keys.slice(start, start + limit);
    const truncated = start + limit < keys.length;
    return {
      objects: page.map((k) => /** @type {{ meta: FakeR2Object }} */ (this.objects.get(k)).meta),
      truncated,
      ...(truncated ? { cursor: String(start + limit) } : {}),
      delimitedPrefixes: [],
    };
  }
}
