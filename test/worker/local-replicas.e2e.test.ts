import assert from "node:assert/strict";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";

import { startTestStack, type TestStack } from "../support/stack.ts";
import { spawnWorker, until } from "./support.ts";

describe("several workers on one machine", () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack();
  });
  after(() => stack?.close());

  it("each take a free health port with the environment keyless stack writes, so replicas never collide", async () => {
    const env: Record<string, string> = { ...stack.env(), LOG_LEVEL: "info" };
    assert.equal(env.WORKER_HEALTH_PORT, "0");
    const replicas = [spawnWorker(env), spawnWorker(env)];
    try {
      const portOf = (output: string) =>
        /"port":(\d+),"msg":"health endpoints listening/.exec(output)?.[1] ?? undefined;
      for (const r of replicas) {
        await until(
          () => r.output().includes("worker state: running"),
          20_000,
          `a replica; log:\n${r.output()}`,
        );
      }
      const ports = replicas.map((r) => Number(portOf(r.output())));
      assert.ok(
        ports.every((p) => p > 0 && p !== 8080),
        `ports ${ports.join(", ")}`,
      );
      assert.notEqual(ports[0], ports[1]);
      for (const port of ports) {
        assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
      }
    } finally {
      const exits = replicas.filter((r) => r.child.exitCode === null).map((r) => once(r.child, "exit"));
      for (const r of replicas) r.child.kill("SIGTERM");
      await Promise.all(exits);
    }
  });
});
