import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseEnv } from "node:util";
import { after, before, describe, it } from "node:test";

import { ManagedIdentityCredential } from "@azure/identity";
import { ServiceBusClient } from "@azure/service-bus";

const KEYLESS = new URL("../../bin/keyless", import.meta.url).pathname;

async function waitForFile(path: string, child: ChildProcess, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`keyless stack exited early with ${child.exitCode}`);
    const text = await readFile(path, "utf8").catch(() => undefined);
    if (text) return text;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${path} was not written`);
}

describe("keyless stack --write-env", () => {
  let dir: string;
  let child: ChildProcess;
  let env: Record<string, string | undefined>;
  let output = "";

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "keyless-stack-"));
    const envFile = join(dir, "local.env");
    // Through bin/keyless, as `npx keyless stack --write-env …` runs it; every port a free one.
    child = spawn(KEYLESS, ["stack", "--ca-dir", join(dir, "ca"), "--write-env", envFile], {
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        KEYLESS_STACK_PORTS: "0",
        PATH: `${dirname(process.execPath)}:${process.env.PATH}`,
      },
    });
    child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
    env = parseEnv(await waitForFile(envFile, child));
    process.env.IDENTITY_ENDPOINT = env.IDENTITY_ENDPOINT;
    process.env.IDENTITY_HEADER = env.IDENTITY_HEADER;
  });
  after(async () => {
    if (child.exitCode === null) child.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  });

  it("writes everything a worker or an SDK client needs", () => {
    for (const name of [
      "IDENTITY_ENDPOINT",
      "IDENTITY_HEADER",
      "AZURE_CLIENT_ID",
      "SERVICEBUS_FULLY_QUALIFIED_NAMESPACE",
      "SERVICEBUS_CONNECTION_STRING",
      "NODE_EXTRA_CA_CERTS",
      "API_ORDERS_BASE_URL",
      "API_ORDERS_SCOPE",
    ]) {
      assert.ok(env[name], `${name} is in the env file`);
    }
    assert.match(output, /managed identity\s+http:\/\/127\.0\.0\.1:\d+\/msi\/token/);
  });

  it("gives a stock ManagedIdentityCredential a token the sample API accepts where its roles allow, and refuses refunds", async () => {
    const { token } = await new ManagedIdentityCredential({ clientId: env.AZURE_CLIENT_ID! }).getToken(
      env.API_ORDERS_SCOPE!,
    );
    const post = (path: string, body: unknown) =>
      fetch(new URL(path, env.API_ORDERS_BASE_URL), {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    assert.equal(
      (
        await fetch(new URL("orders/s-1", env.API_ORDERS_BASE_URL), {
          headers: { authorization: `Bearer ${token}` },
        })
      ).status,
      200,
    );
    assert.equal((await post("orders/s-1/fulfilment", {})).status, 201);
    assert.equal((await post("orders/s-1/refunds", { amount: 1, currency: "EUR" })).status, 403);
  });

  it("points at --write-env when given Node's own --env-file", async () => {
    const wrong = spawn(KEYLESS, ["stack", "--env-file", join(dir, "local.env")], {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH}` },
    });
    let stderr = "";
    wrong.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    const [code] = (await once(wrong, "exit")) as [number | null];
    assert.equal(code, 2);
    assert.equal(
      stderr,
      "keyless stack: --env-file is Node's own option; keyless stack writes its env file with --write-env PATH\n",
    );
  });

  it("stops on SIGINT and exits 0, even with a client still connected", async () => {
    // A worker left running in another terminal: its AMQP connection must not keep the stack alive.
    const client = new ServiceBusClient(env.SERVICEBUS_CONNECTION_STRING!, {
      retryOptions: { maxRetries: 0 },
    });
    const receiver = client.createReceiver("orders");
    await receiver.peekMessages(1);
    try {
      child.kill("SIGINT");
      const [code] = (await once(child, "exit")) as [number | null];
      assert.equal(code, 0);
    } finally {
      await client.close().catch(() => undefined);
    }
  });
});
