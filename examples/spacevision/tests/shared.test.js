import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, parseLimit, validateObservation, validateSignIn } from "@spacevision/shared";

const good = { target: " M31 ", observedAt: "2026-09-20T21:40:00Z", seeing: 2, notes: "core bright" };

describe("validateObservation", () => {
  it("accepts a valid observation and trims the target", () => {
    const r = validateObservation(good);
    assert.equal(r.ok, true);
    assert.deepEqual(r.value, { target: "M31", observedAt: "2026-09-20T21:40:00Z", seeing: 2, notes: "core bright", imageKey: null });
  });

  it("reports every bad field at once", () => {
    const r = validateObservation({ target: "", observedAt: "yesterday", seeing: 9, notes: 5, extra: true });
    assert.equal(r.ok, false);
    assert.deepEqual(Object.keys(r.fields).sort(), ["extra", "notes", "observedAt", "seeing", "target"]);
  });

  it("rejects timestamps in the future and non-UTC timestamps", () => {
    const future = new Date(Date.now() + 3_600_000).toISOString();
    assert.equal(validateObservation({ ...good, observedAt: future }).ok, false);
    assert.equal(validateObservation({ ...good, observedAt: "2026-09-20T21:40:00+02:00" }).ok, false);
  });

  it("rejects non-objects", () => {
    for (const input of [null, 3, "x", []]) assert.equal(validateObservation(input).ok, false);
  });

  it("checks upload keys", () => {
    assert.equal(validateObservation({ ...good, imageKey: "m31.jpg" }).ok, true);
    assert.equal(validateObservation({ ...good, imageKey: "../etc/passwd" }).ok, false);
  });
});

describe("parseLimit", () => {
  it("defaults and bounds", () => {
    assert.deepEqual(parseLimit(null), { ok: true, value: DEFAULT_PAGE_SIZE });
    assert.deepEqual(parseLimit("5"), { ok: true, value: 5 });
    assert.equal(parseLimit(String(MAX_PAGE_SIZE + 1)).ok, false);
    assert.equal(parseLimit("0").ok, false);
    assert.equal(parseLimit("2.5").ok, false);
  });
});

describe("validateSignIn", () => {
  it("normalises the e-mail", () => {
    assert.deepEqual(validateSignIn({ name: "Ada", email: " Ada@Example.org " }), { ok: true, value: { name: "Ada", email: "ada@example.org" } });
    assert.equal(validateSignIn({ name: "", email: "nope" }).ok, false);
  });
});
