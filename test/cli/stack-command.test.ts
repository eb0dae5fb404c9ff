import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { access, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { parseEnv } from "node:util";
import { after, before, describe, it } from "node:test";

import { ManagedIdentityCredential } from "@azure/identity";
import { ServiceBusClient } from "@azure/service-bus";

import { trustDevCaInProcess } from "../../src/local/dev-ca.ts";

const KEYLESS = new URL("../../bin/keyless", import.meta.url).pathname;
const SAMPLE_TENANT = new URL("../../src/local/tenant/sample-tenant.json", import.meta.url).pathname;

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
    // Through bin/keyless, as `npx keyless stack --write-env …` runs it; every port a free one, the CA directory
    // given relative to its cwd.
    child = spawn(KEYLESS, ["stack", "--ca-dir", "ca", "--write-env", envFile], {
      cwd: dir,
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

  it("gives the development CA as an absolute path, which works from any directory", async () => {
    assert.ok(isAbsolute(env.NODE_EXTRA_CA_CERTS!), env.NODE_EXTRA_CA_CERTS);
    assert.equal(env.KEYLESS_CA_CERTS, env.NODE_EXTRA_CA_CERTS);
    await access(env.NODE_EXTRA_CA_CERTS!);
  });

  it("names the broker's inspection URL, which serves the entity counts", async () => {
    const response = await fetch(env.KEYLESS_BROKER_INSPECTION_URL!);
    const stats = (await response.json()) as { entities: Array<{ name: string }> };
    assert.ok(stats.entities.some((e) => e.name === "orders"));
  });

  it("names an identity that may send to the worker's entity, over managed identity and TLS", async () => {
    assert.ok(env.KEYLESS_SENDER_CLIENT_ID);
    assert.notEqual(env.KEYLESS_SENDER_CLIENT_ID, env.AZURE_CLIENT_ID, "the worker only receives");
    trustDevCaInProcess(await readFile(env.NODE_EXTRA_CA_CERTS!, "utf8"));
    const client = new ServiceBusClient(
      env.SERVICEBUS_FULLY_QUALIFIED_NAMESPACE!,
      new ManagedIdentityCredential({ clientId: env.KEYLESS_SENDER_CLIENT_ID! }),
      { retryOptions: { maxRetries: 0 } },
    );
    await client.createSender(env.SERVICEBUS_ENTITIES!).sendMessages({ body: "from the sender identity" });
    await client.close();
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

  it("stops on SIGINT and exits 0 while a worker is connected to its broker, identity endpoint and API", async () => {
    // What a running worker holds open: a subscribed receiver (AMQP heartbeats) and keep-alive HTTP connections.
    const worker = new ServiceBusClient(
      env.SERVICEBUS_FULLY_QUALIFIED_NAMESPACE!,
      new ManagedIdentityCredential({ clientId: env.AZURE_CLIENT_ID! }),
    );
    const subscription = worker.createReceiver(env.SERVICEBUS_ENTITIES!).subscribe({
      processMessage: async () => {},
      processError: async () => {},
    });
    await worker.createReceiver(env.SERVICEBUS_ENTITIES!).peekMessages(1);
    await fetch(new URL("orders/s-1", env.API_ORDERS_BASE_URL));

    const exited = once(child, "exit") as Promise<[number | null]>;
    child.kill("SIGINT");
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error("keyless stack did not exit within 10 s of SIGINT")), 10_000).unref(),
    );
    const [code] = await Promise.race([exited, timeout]);
    assert.equal(code, 0);
    await subscription.close().catch(() => undefined);
    await worker.close().catch(() => undefined);
  });
});

/** `keyless stack` on free ports with a changed copy of the sample tenant, in a directory of its own. */
async function stackWithTenant(
  dir: string,
  change: (tenant: { managedIdentities: unknown[]; applications: unknown[] }) => void,
  args: string[] = [],
): Promise<ChildProcess> {
  const tenantPath = join(dir, "tenant.json");
  const tenant = JSON.parse(await readFile(SAMPLE_TENANT, "utf8")) as Parameters<typeof change>[0];
  change(tenant);
  await writeFile(tenantPath, JSON.stringify(tenant));
  return spawn(KEYLESS, ["stack", "--tenant", tenantPath, "--ca-dir", join(dir, "ca"), ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      KEYLESS_STACK_PORTS: "0",
      PATH: `${dirname(process.execPath)}:${process.env.PATH}`,
    },
  });
}

describe("keyless stack --tenant with a file it cannot use", () => {
  it("prints the problem list without a stack trace and exits 78 (configuration)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "keyless-bad-tenant-"));
    try {
      const stack = await stackWithTenant(dir, (tenant) => {
        const [worker] = tenant.managedIdentities as Array<Record<string, unknown>>;
        tenant.managedIdentities.push({ ...worker, name: "orders-worker-2" });
      });
      let stderr = "";
      stack.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
      const [code] = (await once(stack, "exit")) as [number | null];
      assert.equal(code, 78, stderr);
      assert.match(
        stderr,
        /^keyless stack: tenant file .* is not consistent:\n {2}".+" is used by both managedIdentities\[0\] \(orders-worker\) and managedIdentities\[3\] \(orders-worker-2\)/,
      );
      assert.doesNotMatch(stderr, /^\s+at /m, "no stack trace");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("keyless stack with another API in its tenant file", () => {
  it("lists its stand-in in the start-up output and the help", async () => {
    const dir = await mkdtemp(join(tmpdir(), "keyless-stand-in-"));
    try {
      const envFile = join(dir, "local.env");
      const stack = await stackWithTenant(
        dir,
        (tenant) =>
          tenant.applications.push({
            displayName: "Billing API",
            api: { name: "billing" },
            appId: "7d0f5a35-3b8e-4c1a-9b65-0d6c2a1e9f10",
            servicePrincipalId: "0b8e4e0c-6f7a-4a77-9b1e-5e2f3c4d5a6b",
          }),
        ["--write-env", envFile],
      );
      let output = "";
      stack.stdout?.on("data", (d: Buffer) => (output += d.toString()));
      try {
        const env = parseEnv(await waitForFile(envFile, stack));
        assert.ok(env.API_BILLING_BASE_URL);
        assert.ok(
          output.includes(`  billing API        ${env.API_BILLING_BASE_URL}  (stand-in, API_BILLING_*)`),
          output,
        );
      } finally {
        stack.kill("SIGINT");
        await once(stack, "exit");
      }
      const help = spawn(KEYLESS, ["stack", "--help"], {
        stdio: ["ignore", "pipe", "ignore"],
        env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH}` },
      });
      let text = "";
      help.stdout?.on("data", (d: Buffer) => (text += d.toString()));
      await once(help, "exit");
      assert.match(text, /a stand-in for every other API the tenant file names/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
