/**
 * Optional interop check: Microsoft's Python client (azure-servicebus 7.15 on pyamqp, azure-identity 1.27; script in
 * test/interop/python/check.py) against the local stack over both routes. Runs when python3.11 and the client's wheels
 * are on this machine (KEYLESS_PYTHON_WHEELS, default the shared/interop/python folder beside the repository: PyPI is not reachable here); the
 * virtual environment is made once under test/interop/python/.venv (ignored by git). Skipped with a message otherwise.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import type { TestStack } from "../support/stack.ts";
import { failed, interopEnv, run, runChecks, startInteropStack } from "./support.ts";

const DIR = new URL("./python/", import.meta.url).pathname;
const VENV_PYTHON = join(DIR, ".venv/bin/python");
// shared/ sits beside the repository (on every machine of the team and in CI's fresh clone).
const WHEELS =
  process.env.KEYLESS_PYTHON_WHEELS ??
  [new URL("../../../shared/interop/python", import.meta.url).pathname, "/work/shared/interop/python"].find(
    (d) => existsSync(d),
  ) ??
  "../shared/interop/python";
const pythonFound = spawnSync("python3.11", ["--version"], { stdio: "ignore" }).status === 0;
const skip = !pythonFound
  ? "python3.11 is not on PATH: the optional Python interop check is skipped"
  : !existsSync(join(WHEELS, "requirements.txt"))
    ? `no azure-servicebus wheels at ${WHEELS} (set KEYLESS_PYTHON_WHEELS): the optional Python interop check is skipped`
    : false;

describe("Microsoft's Python client against the local stack", { skip }, () => {
  let stack: TestStack;

  before(async () => {
    if (!existsSync(VENV_PYTHON)) {
      await run("python3.11", ["-m", "venv", join(DIR, ".venv")], { timeout: 120_000 });
      await run(
        VENV_PYTHON,
        [
          "-m",
          "pip",
          "install",
          "-q",
          "--no-index",
          "--find-links",
          WHEELS,
          "-r",
          join(WHEELS, "requirements.txt"),
        ],
        { timeout: 300_000 },
      );
    }
    stack = await startInteropStack();
  });
  after(async () => {
    await stack?.close();
  });

  it("passes every check over the connection string (AMQP, SAS) and managed identity (AMQPS, ManagedIdentityCredential)", async (t) => {
    const { results } = await runChecks(VENV_PYTHON, [join(DIR, "check.py")], interopEnv(stack));
    for (const r of results) t.diagnostic(`${r.ok ? "ok  " : "FAIL"} ${r.route} ${r.check}: ${r.detail}`);
    assert.deepEqual(failed(results), []);
    assert.equal(results.filter((r) => r.route === "connection-string").length, 10);
    assert.equal(results.filter((r) => r.route === "managed-identity-tls").length, 11);
  });
});
