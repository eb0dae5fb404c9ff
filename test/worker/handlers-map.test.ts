import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { defineHandlers } from "../../src/worker/handler.ts";
import { cancelled, fulfil } from "./fixtures.ts";

describe("the handler map", () => {
  it("is keyed by each handler's own subject", () => {
    assert.deepEqual(Object.keys(defineHandlers([fulfil, cancelled])), [
      "orders.fulfil",
      "orders.cancelled-check",
    ]);
  });

  it("refuses two handlers for one subject instead of keeping the last silently", () => {
    assert.throws(
      () => defineHandlers([fulfil, { ...fulfil }]),
      /two handlers serve the subject "orders.fulfil"/,
    );
  });
});
