import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";

import { z } from "zod";

import {
  createWorkerFromEnv,
  defineHandler,
  defineHandlers,
  type OutcomeEvent,
} from "../../src/worker/index.ts";
import { memoryLogger, sampleTenant, startTestStack, type TestStack } from "../support/stack.ts";
import { until } from "./support.ts";

/** A second API in the tenant file: one JSON block, and keyless stack serves a stand-in for it. */
const billingApi = {
  displayName: "Billing API",
  api: { name: "billing" },
  appId: "7d0f5a35-3b8e-4c1a-9b65-0d6c2a1e9f10",
  servicePrincipalId: "0b8e4e0c-6f7a-4a77-9b1e-5e2f3c4d5a6b",
  identifierUris: ["api://7d0f5a35-3b8e-4c1a-9b65-0d6c2a1e9f10"],
  accessTokenAcceptedVersion: 2,
  appRoles: [
    {
      id: "f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b",
      value: "Billing.Charge",
      allowedMemberTypes: ["Application"],
    },
  ],
};

/** One handler file for it. */
const charge = defineHandler({
  subject: "billing.charge",
  schema: z.object({ invoiceId: z.string() }),
  api: "billing",
  roles: ["Billing.Charge"],
  async handle({ body, api }) {
    await api.post(`invoices/${encodeURIComponent(body.invoiceId)}/charge`, { amount: 5 });
  },
});

describe("a handler for another API runs against keyless stack after one tenant-file entry", () => {
  let stack: TestStack;
  const outcomes = new Map<string, OutcomeEvent>();
  let stop: () => Promise<void>;
  before(async () => {
    const tenant = await sampleTenant();
    (tenant.applications as unknown[]).push(billingApi);
    (tenant.appRoleAssignments as unknown[]).push({
      principal: "orders-worker",
      application: "Billing API",
      role: "Billing.Charge",
    });
    stack = await startTestStack({ tenant });
    const { worker } = createWorkerFromEnv({
      env: stack.workerEnv(),
      handlers: defineHandlers([charge]),
      logger: memoryLogger("warn").logger,
      receiveWaitMs: 500,
    });
    worker.on("delivery.settled", (e) => outcomes.set(e.messageId, e));
    await worker.started;
    stop = () => worker.stop();
  });
  after(async () => {
    await stop?.();
    await stack?.close();
  });

  it("writes API_BILLING_* into the stack's environment", () => {
    const env = stack.env();
    assert.equal(env.API_BILLING_BASE_URL, stack.standIns.billing?.url);
    assert.equal(env.API_BILLING_SCOPE, `${billingApi.identifierUris[0]}/.default`);
    assert.ok(env.API_ORDERS_BASE_URL, "the sample orders API is still there");
  });

  it("serves the call with the role-scoped token checked and recorded", async () => {
    const messageId = randomUUID();
    await stack.send("orders", { messageId, subject: "billing.charge", body: { invoiceId: "inv-1" } });
    await until(() => outcomes.has(messageId), 30_000, "the outcome");
    assert.equal(outcomes.get(messageId)?.outcome.kind, "complete");
    const [call] = stack.standIns.billing!.journal();
    assert.equal(call?.method, "POST");
    assert.equal(call?.path, "/invoices/inv-1/charge");
    assert.deepEqual(call?.roles, ["Billing.Charge"]);
    assert.equal(call?.idempotencyKey, messageId);
  });

  it("refuses a call without a valid token, as the real API would", async () => {
    const response = await fetch(new URL("invoices/x/charge", stack.standIns.billing!.url), {
      method: "POST",
    });
    assert.equal(response.status, 401);
    assert.match(response.headers.get("www-authenticate") ?? "", /Bearer/);
  });
});
