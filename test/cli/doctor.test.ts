import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import type { DoctorReport } from "../../src/operator/doctor.ts";
import { startTestStack, type TestStack } from "../support/stack.ts";
import { runKeyless } from "./support.ts";

const WORKER_OBJECT_ID = "c1fcf6b2-7fc3-4a43-92cd-5ea3cadbce61";
const ORDERS_API_URI = "api://568c0ca2-0405-43bd-8d4c-bfdfd3f66f42";

/**
 * keyless doctor run as its own process with the worker's environment, as `docker exec … keyless doctor` runs it.
 * A fresh process per run also means a fresh MSAL token cache, so a grant made in between is seen.
 */
describe("keyless doctor on the demo stack", () => {
  let stack: TestStack;
  let workerEnv: Record<string, string>;
  const checkNamed = (report: DoctorReport, name: string) => {
    const found = report.checks.find((c) => c.check === name);
    assert.ok(found, `no check "${name}" in ${JSON.stringify(report.checks)}`);
    return found;
  };

  before(async () => {
    stack = await startTestStack();
    workerEnv = stack.workerEnv();
  });

  after(async () => {
    await stack?.close();
  });

  it("fails when the worker's identity lacks a handler's role, and the fix is the exact grant command", async () => {
    const run = await runKeyless(["doctor", "--json"], workerEnv);
    assert.equal(run.code, 1, run.stderr);
    const report = run.json<DoctorReport>();
    assert.equal(report.ok, false);
    for (const name of [
      "configuration",
      "credential",
      "Service Bus token",
      "roles for orders.fulfil",
      "receive from orders",
    ]) {
      assert.equal(checkNamed(report, name).status, "pass", name);
    }
    assert.match(
      checkNamed(report, "credential").detail,
      /AppService: managed identity .* client id eb7db80e/,
    );
    const refund = checkNamed(report, "roles for orders.refund");
    assert.equal(refund.status, "fail");
    assert.match(
      refund.detail,
      /needs Orders\.Refund on orders; token has Orders\.(Read|Fulfil), Orders\.(Read|Fulfil)/,
    );
    assert.equal(
      refund.fix,
      `keyless grant --identity ${WORKER_OBJECT_ID} --api ${ORDERS_API_URI} --role Orders.Refund`,
    );
    assert.ok(!/eyJ/.test(run.stdout + run.stderr), "no token is printed");
  });

  it("passes once the suggested grant is made", async () => {
    const before = await runKeyless(["doctor", "--json"], workerEnv);
    const fix = checkNamed(before.json<DoctorReport>(), "roles for orders.refund").fix!;
    const grant = await runKeyless(fix.replace(/^keyless /, "").split(" "), {
      ...workerEnv,
      KEYLESS_GRAPH_URL: stack.identity.graphUrl,
      KEYLESS_ADMIN_CLIENT_ID: "9600f50e-2365-4746-995f-dfd2972ecd9e",
    });
    assert.equal(grant.code, 0, grant.stderr);

    const after = await runKeyless(["doctor"], workerEnv);
    assert.equal(after.code, 0, after.stdout + after.stderr);
    assert.match(after.stdout, /roles for orders\.refund\s+ok\s+Orders\.Refund on orders/);
    assert.match(after.stdout, /all checks passed/);
  });

  it("fails on configuration and names the variable", async () => {
    const { SERVICEBUS_ENTITIES: _, ...withoutEntities } = workerEnv;
    const run = await runKeyless(["doctor", "--json"], withoutEntities);
    assert.equal(run.code, 1);
    const config = checkNamed(run.json<DoctorReport>(), "configuration");
    assert.equal(config.status, "fail");
    assert.match(config.detail, /SERVICEBUS_ENTITIES: required/);
  });

  it("fails on an entity that does not exist, saying so", async () => {
    const run = await runKeyless(["doctor", "--json"], {
      ...workerEnv,
      SERVICEBUS_ENTITIES: "orders,nosuch",
    });
    assert.equal(run.code, 1);
    const missing = checkNamed(run.json<DoctorReport>(), "receive from nosuch");
    assert.equal(missing.status, "fail");
    assert.match(missing.fix ?? "", /no such entity nosuch|Data Receiver on nosuch/);
  });
});
