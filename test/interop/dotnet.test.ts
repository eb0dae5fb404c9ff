/**
 * Optional interop check: Microsoft's .NET client (Azure.Messaging.ServiceBus 7.21, Azure.Identity 1.21; project in
 * test/interop/dotnet) against the local stack over both routes, and messages it enqueues processed by the worker.
 * Runs when `dotnet` is on PATH, is skipped with a message otherwise. The build restores from NuGet once (bin/ and
 * obj/ stay, ignored by git); the checks contact only loopback.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import type { TestStack } from "../support/stack.ts";
import { startTestWorker } from "../worker/support.ts";
import { failed, interopEnv, run, runChecks, startInteropStack } from "./support.ts";

const PROJECT = new URL("./dotnet/", import.meta.url).pathname;
const ASSEMBLY = join(PROJECT, "bin/Release/net10.0/KeylessInterop.dll");
const dotnetFound = spawnSync("dotnet", ["--version"], { stdio: "ignore" }).status === 0;
const QUIET = {
  DOTNET_CLI_TELEMETRY_OPTOUT: "1",
  DOTNET_NOLOGO: "1",
  DOTNET_SKIP_FIRST_TIME_EXPERIENCE: "1",
};

describe(
  "Microsoft's .NET client against the local stack",
  { skip: dotnetFound ? false : "dotnet is not on PATH: the optional .NET interop check is skipped" },
  () => {
    let stack: TestStack;
    let dir: string;
    let env: Record<string, string>;

    before(async () => {
      await run("dotnet", ["build", PROJECT, "-c", "Release", "-v", "quiet", "-nologo"], {
        env: { ...process.env, ...QUIET },
        timeout: 300_000,
      });
      stack = await startInteropStack();
      // .NET on Linux takes its trust store from SSL_CERT_FILE: the system's roots and the stack's development CA.
      dir = await mkdtemp(join(tmpdir(), "keyless-dotnet-"));
      const system = await readFile("/etc/ssl/certs/ca-certificates.crt", "utf8").catch(() => "");
      const bundle = join(dir, "trust.pem");
      await writeFile(bundle, `${system}\n${stack.caCertPem}`);
      env = { ...interopEnv(stack), ...QUIET, SSL_CERT_FILE: bundle };
    });
    after(async () => {
      await stack?.close();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it("passes every check over the connection string (AMQP, SAS) and managed identity (AMQPS, ManagedIdentityCredential)", async (t) => {
      const { results } = await runChecks("dotnet", [ASSEMBLY, "checks"], env);
      for (const r of results) t.diagnostic(`${r.ok ? "ok  " : "FAIL"} ${r.route} ${r.check}: ${r.detail}`);
      assert.deepEqual(failed(results), []);
      assert.equal(results.filter((r) => r.route === "connection-string").length, 13);
      assert.equal(results.filter((r) => r.route === "managed-identity-tls").length, 14);
    });

    it("has every message the .NET client enqueues processed by the worker and applied once", async () => {
      const worker = await startTestWorker(stack);
      try {
        const prefix = `dotnet-${randomUUID()}`;
        const { stdout } = await runChecks("dotnet", [ASSEMBLY, "enqueue", "20", prefix], env);
        const { messageIds } = JSON.parse(stdout) as { messageIds: string[] };
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
