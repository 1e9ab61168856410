// The web app's API client, run against the real worker handler through a fetch adapter.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import worker from "@spacevision/worker";
import { ApiError, SpaceVisionClient } from "../web/src/api.js";
import { fetchVia, makeEnv } from "./helpers/env.js";

describe("SpaceVisionClient", () => {
  it("signs in, creates and lists observations", async () => {
    const env = await makeEnv({ seed: true });
    const client = new SpaceVisionClient("https://api.spacevision.test/", fetchVia(worker, env));
    await client.signIn("Carl", "carl@example.org");
    const created = await client.createObservation({ target: "M57", observedAt: "2026-08-01T22:30:00Z", seeing: 2, notes: "Ring" });
    assert.equal(created.item.target, "M57");
    const page = await client.listObservations({ limit: 2 });
    assert.deepEqual(page.items.map((o) => o.target), ["M57", "NGC 7000"]);
    assert.equal(page.nextCursor, "3");
  });

  it("validates before sending and surfaces server errors", async () => {
    let calls = 0;
    const env = await makeEnv();
    const through = fetchVia(worker, env);
    const client = new SpaceVisionClient("https://api.spacevision.test", (url, init) => {
      calls += 1;
      return through(url, init);
    });
    await assert.rejects(client.createObservation({ target: "" }), (err) => err instanceof ApiError && "target" in err.fields);
    assert.equal(calls, 0);
    await assert.rejects(
      client.createObservation({ target: "M1", observedAt: "2026-01-01T00:00:00Z", seeing: 3 }),
      (err) => err instanceof ApiError && err.status === 401,
    );
    assert.equal(calls, 1);
  });
});
