// A D1 database binding backed by a real SQLite file, driven through the `sqlite3` CLI
// (Debian package `sqlite3`; scripts/setup-test-deps.sh installs it). Real SQL means the
// worker's queries, the migrations and seed.sql are all checked for real, which a
// pattern-matching fake could not do. Node 20 has no built-in SQLite, hence the CLI.

import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const MARK = "@@sv-d1-statement-end@@";

/** @param {unknown} value */
function literal(value) {
  if (value === null || value === undefined) return "NULL";
  if (typeof value === "boolean") return value ? "1" : "0";
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new TypeError(`D1_TYPE_ERROR: cannot bind ${value}`);
    return String(value);
  }
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "string") return `'${value.replaceAll("'", "''")}'`;
  if (value instanceof Uint8Array || value instanceof ArrayBuffer) {
    return `X'${Buffer.from(value instanceof ArrayBuffer ? new Uint8Array(value) : value).toString("hex")}'`;
  }
  throw new TypeError(`D1_TYPE_ERROR: type '${typeof value}' not supported for value '${value}'`);
}

/**
 * Replaces `?` / `?NNN` placeholders outside strings, identifiers and comments with SQL
 * literals, the way SQLite numbers them (anonymous `?` takes the next index).
 * @param {string} sql
 * @param {unknown[]} params
 */
export function bindSql(sql, params) {
  let out = "";
  let next = 1;
  let used = 0;
  for (let i = 0; i < sql.length; ) {
    const c = sql[i];
    if (c === "'" || c === '"' || c === "`") {
      const end = sql.indexOf(c, i + 1);
      const stop = end === -1 ? sql.length : end + 1;
      out += sql.slice(i, stop);
      i = stop;
    } else if (c === "-" && sql[i + 1] === "-") {
      const end = sql.indexOf("\n", i);
      const stop = end === -1 ? sql.length : end;
      out += sql.slice(i, stop);
      i = stop;
    } else if (c === "/" && sql[i + 1] === "*") {
      const end = sql.indexOf("*/", i + 2);
      const stop = end === -1 ? sql.length : end + 2;
      out += sql.slice(i, stop);
      i = stop;
    } else if (c === "?") {
      const digits = /^\d+/.exec(sql.slice(i + 1));
      const index = digits ? Number(digits[0]) : next;
      next = index + 1;
      if (index < 1 || index > params.length) {
        throw new RangeError(`D1_ERROR: parameter ?${index} not bound (${params.length} given)`);
      }
      out += literal(params[index - 1]);
      used = Math.max(used, index);
      i += 1 + (digits ? digits[0].length : 0);
    } else {
      out += c;
      i += 1;
    }
  }
  if (used !== params.length) throw new RangeError(`D1_ERROR: ${params.length} values bound, ${used} used`);
  return out;
}

class FakeD1Statement {
  /** @param {FakeD1} db @param {string} sql @param {unknown[]} params */
  constructor(db, sql, params = []) {
    this.db = db;
    this.sql = sql;
    this.params = params;
  }

  /** @param {...unknown} params */
  bind(...params) {
    return new FakeD1Statement(this.db, this.sql, params);
  }

  toSql() {
    return bindSql(this.sql.trim().replace(/;\s*$/, ""), this.params);
  }

  /** @param {string} [column] */
  async first(column) {
    const [result] = await this.db.execute([this]);
    const row = result.results[0] ?? null;
    if (column === undefined || row === null) return row;
    if (!(column in row)) throw new Error(`D1_COLUMN_NOTFOUND: Column not found (${column})`);
    return row[column];
  }

  async all() {
    const [result] = await this.db.execute([this]);
    return result;
  }

  async run() {
    const [result] = await this.db.execute([this]);
    return result;
  }

  async raw() {
    const [result] = await this.db.execute([this]);
    return result.results.map((row) => Object.values(row));
  }
}

export class FakeD1 {
  /** @param {string} [path] SQLite file; a fresh temporary one by default. */
  constructor(path) {
    this.path = path ?? join(mkdtempSync(join(tmpdir(), "spacevision-d1-")), "db.sqlite3");
    this.sqlite3 = process.env.SQLITE3 || "sqlite3";
  }

  /** @param {string} sql */
  prepare(sql) {
    return new FakeD1Statement(this, sql);
  }

  /** All statements in one transaction, as D1 does. @param {FakeD1Statement[]} statements */
  async batch(statements) {
    return this.execute(statements, { transaction: true });
  }

  /** Runs a whole SQL script (several statements, no parameters). @param {string} sql */
  async exec(sql) {
    await this.script(`${sql}\n`);
    return { count: sql.split(";").filter((s) => s.trim()).length, duration: 0 };
  }

  /**
   * @param {FakeD1Statement[]} statements
   * @param {{ transaction?: boolean }} [options]
   */
  async execute(statements, options = {}) {
    const parts = [];
    if (options.transaction) parts.push("BEGIN;");
    for (const statement of statements) {
      parts.push(`${statement.toSql()};`, `.print ${MARK}`);
      parts.push("SELECT changes() AS changes, last_insert_rowid() AS last_row_id;", `.print ${MARK}`);
    }
    if (options.transaction) parts.push("COMMIT;");
    const out = await this.script(parts.join("\n"));
    const chunks = out.split(`${MARK}\n`);
    return statements.map((_, i) => {
      const rows = parse(chunks[2 * i]);
      const meta = parse(chunks[2 * i + 1])[0] ?? { changes: 0, last_row_id: 0 };
      return {
        success: true,
        results: rows,
        meta: { changes: meta.changes, last_row_id: meta.last_row_id, duration: 0, rows_read: rows.length, rows_written: meta.changes },
      };
    });
  }

  /** @param {string} script */
  script(script) {
    return new Promise((resolve, reject) => {
      const child = execFile(
        this.sqlite3,
        ["-bail", "-json", this.path],
        { maxBuffer: 64 * 1024 * 1024 },
        (err, stdout, stderr) => {
          if (err) {
            const code = /** @type {NodeJS.ErrnoException} */ (err).code;
            if (code === "ENOENT") {
              reject(new Error(`${this.sqlite3} not found: install it (apt-get install sqlite3 or scripts/setup-test-deps.sh)`));
            } else {
              reject(new Error(`D1_ERROR: ${stderr.trim() || err.message}`));
            }
            return;
          }
          resolve(stdout);
        },
      );
      child.stdin?.end(`PRAGMA foreign_keys = ON;\n${script}\n`);
    });
  }

  /**
   * Applies every `NNNN_name.sql` file of a wrangler migrations directory in order and
   * records them in `d1_migrations` like wrangler does.
   * @param {string} dir
   * @returns {Promise<string[]>} the applied file names
   */
  async applyMigrations(dir) {
    await this.exec(
      "CREATE TABLE IF NOT EXISTS d1_migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);",
    );
    const done = new Set((await this.prepare("SELECT name FROM d1_migrations").all()).results.map((r) => r.name));
    const files = readdirSync(dir).filter((f) => /^\d{4}_.+\.sql$/.test(f)).sort();
    const applied = [];
    for (const file of files) {
      if (done.has(file)) continue;
      const sql = readFileSync(join(dir, file), "utf8");
      await this.exec(`BEGIN;\n${sql}\nINSERT INTO d1_migrations (name) VALUES (${literal(file)});\nCOMMIT;`);
      applied.push(file);
    }
    return applied;
  }
}

/** @param {string | undefined} chunk */
function parse(chunk) {
  const text = (chunk ?? "").trim();
  return text ? JSON.parse(text) : [];
}
