/**
 * Optional interop check: Microsoft's .NET client (Azure.Messaging.ServiceBus 7.21, Azure.Identity 1.21; project in
 * test/interop/dotnet) against the local stack over both routes, and messages it enqueues processed by the worker.
 * Runs when `dotnet` is on PATH, is skipped with a message otherwise. The build restores from NuGet once (bin/ and
 * obj/ stay, ignored by git); the checks contact only loopback.
 */
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";

import { startTestStack, type TestStack } from "../support/stack.ts";
import { startTestWorker } from "../worker/support.ts";

const run = promisify(execFile);
const PROJECT = new URL("./dotnet/", import.meta.url).pathname;
const ASSEMBLY = join(PROJECT, "bin/Release/net10.0/KeylessInterop.dll");
const dotnetFound = spawnSync("dotnet", ["--version"], { stdio: "ignore" }).status === 0;
const QUIET = {
  DOTNET_CLI_TELEMETRY_OPTOUT: "1",
  DOTNET_NOLOGO: "1",
  DOTNET_SKIP_FIRST_TIME_EXPERIENCE: "1",
};

interface CheckResult {
  route: string;
  check: string;
  ok: boolean;
  detail: string;
}

const queue = (name: string) => ({ Name: name, Properties: { LockDuration: "PT5S", MaxDeliveryCount: 10 } });

describe(
  "Microsoft's .NET client against the local stack",
  { skip: dotnetFound ? false : "dotnet is not on PATH: the optional .NET interop check is skipped" },
  () => {
    let stack: TestStack;
    let dir: string;
    let env: Record<string, string>;

    const dotnet = async (...args: string[]) => {
      const { stdout } = await run("dotnet", [ASSEMBLY, ...args], {
        env: { ...process.env, ...env },
        timeout: 180_000,
        maxBuffer: 16 * 1024 * 1024,
      }).catch((error: { stdout?: string; stderr?: string }) => {
        // A failing check makes the program exit 1; its lines still say which.
        if (error.stdout) return { stdout: error.stdout };
        throw new Error(`dotnet failed: ${error.stderr ?? String(error)}`);
      });
      return stdout;
    };

    before(async () => {
      await run("dotnet", ["build", PROJECT, "-c", "Release", "-v", "quiet", "-nologo"], {
        env: { ...process.env, ...QUIET },
        timeout: 300_000,
      });
      stack = await startTestStack({
        topology: {
          UserConfig: {
            Namespaces: [
              {
                Name: "sbemulatorns",
                Queues: [queue("orders"), queue("interop-cs"), queue("interop-mi")],
                Topics: [],
              },
            ],
            Logging: { Type: "Console" },
          },
        },
      });
      // .NET on Linux takes its trust store from SSL_CERT_FILE: the system's roots and the stack's development CA.
      dir = await mkdtemp(join(tmpdir(), "keyless-dotnet-"));
      const system = await readFile("/etc/ssl/certs/ca-certificates.crt", "utf8").catch(() => "");
      const bundle = join(dir, "trust.pem");
      await writeFile(bundle, `${system}\n${stack.caCertPem}`);
      env = {
        ...stack.env(),
        ...QUIET,
        SSL_CERT_FILE: bundle,
        INTEROP_QUEUE_CS: "interop-cs",
        INTEROP_QUEUE_MI: "interop-mi",
        // Managed identity comes from IDENTITY_ENDPOINT; should MSAL ever fall back to IMDS, keep it on loopback.
        AZURE_POD_IDENTITY_AUTHORITY_HOST: "http://127.0.0.1:9",
      };
    });
    after(async () => {
      await stack?.close();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it("passes every check over the connection string (AMQP, SAS) and managed identity (AMQPS, ManagedIdentityCredential)", async (t) => {
      const results = (await dotnet("checks"))
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as CheckResult);
      for (const r of results) t.diagnostic(`${r.ok ? "ok  " : "FAIL"} ${r.route} ${r.check}: ${r.detail}`);
      assert.deepEqual(
        results.filter((r) => !r.ok).map((r) => `${r.route} ${r.check}: ${r.detail}`),
        [],
      );
      assert.equal(results.filter((r) => r.route === "connection-string").length, 12);
      assert.equal(results.filter((r) => r.route === "managed-identity-tls").length, 13);
    });

    it("has every message the .NET client enqueues processed by the worker and applied once", async () => {
      const worker = await startTestWorker(stack);
      try {
        const prefix = `dotnet-${randomUUID()}`;
        const { messageIds } = JSON.parse(await dotnet("enqueue", "20", prefix)) as { messageIds: string[] };
        const events = await worker.settled(messageIds);
        assert.deepEqual(new Set(events.map((e) => e.outcome.kind)), new Set(["complete"]));
        for (let i = 1; i <= 20; i++) {
          assert.equal(
            stack.ordersApi.effects(`${prefix}-${i}`).fulfilments,
            1,
            `order ${prefix}-${i} fulfilled once`,
          );
        }
        await stack.waitForCounts("orders", (c) => c.active === 0 && c.locked === 0);
      } finally {
        await worker.worker.stop("test over");
      }
    });
  },
);
