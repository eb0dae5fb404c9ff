import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { handlers } from "../../src/handlers/index.ts";
import { runDoctor } from "../../src/operator/doctor.ts";
import { sampleTenant, startTestStack, type TestStack } from "../support/stack.ts";

/** A tenant where the worker's identity was never given Azure Service Bus Data Receiver on its queue. */
describe("keyless doctor when a Service Bus data role is missing", () => {
  let stack: TestStack;

  before(async () => {
    const tenant = await sampleTenant();
    tenant.serviceBusRoleAssignments = (
      tenant.serviceBusRoleAssignments as Array<{ principal: string }>
    ).filter((a) => a.principal !== "orders-worker");
    stack = await startTestStack({ tenant });
  });

  after(async () => {
    await stack?.close();
  });

  it("fails the entity check at once with UnauthorizedAccess and the az role assignment that fixes it", async () => {
    const started = Date.now();
    const report = await runDoctor(stack.workerEnv(), { handlers, timeoutMs: 5_000 });
    // maxRetries 0: the answer comes now, not after the SDK's ~90 s of retries.
    assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
    assert.equal(report.ok, false);
    const entity = report.checks.find((c) => c.check === "receive from orders");
    assert.equal(entity?.status, "fail");
    assert.match(entity.detail, /^UnauthorizedAccess: .*Listen/);
    assert.match(
      entity.fix ?? "",
      /^identity lacks Azure Service Bus Data Receiver on orders: az role assignment create --role "Azure Service Bus Data Receiver" --assignee-object-id c1fcf6b2-7fc3-4a43-92cd-5ea3cadbce61 /,
    );
    assert.match(entity.fix ?? "", /\/queues\/orders"/);
    // The identity itself is fine: its token comes, only the data role is missing.
    assert.equal(report.checks.find((c) => c.check === "Service Bus token")?.status, "pass");
  });
});
