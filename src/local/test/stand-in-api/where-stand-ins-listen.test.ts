import assert from "node:assert/strict";
import { readFile, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { type LocalStack, startLocalStack } from "../../stack.ts";
import { SAMPLE_TENANT_PATH } from "../../tenant/index.ts";

/** A tenant-file application served as API_BILLING_*. */
const BILLING = {
  displayName: "Billing API",
  api: { name: "billing" },
  appId: "7d0f5a35-3b8e-4c1a-9b65-0d6c2a1e9f10",
  servicePrincipalId: "0b8e4e0c-6f7a-4a77-9b1e-5e2f3c4d5a6b",
  appRoles: [{ id: "f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b", value: "Billing.Charge" }],
};

const canListen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer()
      .once("error", () => resolve(false))
      .listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });

/** A free port whose next one is free too, for the orders API and the one stand-in after it. */
async function twoFreePorts(): Promise<number> {
  for (;;) {
    const server = createServer().listen(0, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    const port = (server.address() as { port: number }).port;
    await new Promise((r) => server.close(r));
    if (port < 65_535 && (await canListen(port)) && (await canListen(port + 1))) return port;
  }
}

describe("a stand-in API", () => {
  let dir: string;
  let stack: LocalStack;
  let apiPort: number;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "keyless-stand-in-"));
    const tenant = JSON.parse(await readFile(SAMPLE_TENANT_PATH, "utf8")) as { applications: unknown[] };
    tenant.applications.push(BILLING);
    apiPort = await twoFreePorts();
    stack = await startLocalStack({
      tenant,
      caDir: join(dir, "ca"),
      host: "0.0.0.0",
      publicHost: "platform",
      ports: { identity: 0, api: apiPort, amqps: 0, amqp: 0, brokerHttp: 0 },
    });
  });
  after(async () => {
    await stack?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("takes the port after the orders API's, so a compose file can name it", () => {
    assert.equal(new URL(stack.standIns.billing!.url).port, String(apiPort + 1));
  });

  it("is written into the env file with the public host, as the other URLs are", () => {
    const env = stack.env();
    assert.equal(env.API_BILLING_BASE_URL, `http://platform:${apiPort + 1}/`);
    assert.equal(env.API_ORDERS_BASE_URL, `http://platform:${apiPort}/`);
    assert.equal(new URL(env.IDENTITY_ENDPOINT!).hostname, "platform");
  });

  it("listens on the stack's host address", async () => {
    const response = await fetch(`http://127.0.0.1:${apiPort + 1}/invoices`);
    assert.equal(response.status, 401, "it answers, and wants a token");
  });
});
