import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const KEYLESS = join(ROOT, "bin/keyless");

/** `keyless run` without configuration (exit 78), with Node's compile-cache log on stderr. */
function runWithout(env: Record<string, string>) {
  return new Promise<{ code: number | string | null; stdout: string; stderr: string }>((resolve) => {
    execFile(
      KEYLESS,
      ["run"],
      {
        env: { PATH: process.env.PATH, NODE_DEBUG_NATIVE: "COMPILE_CACHE", ...env },
        timeout: 60_000,
        maxBuffer: 64 * 1024 * 1024, // the cache's log has lines for every module
      },
      (error, stdout, stderr) =>
        resolve({ code: error ? (error.code ?? error.signal ?? null) : 0, stdout, stderr }),
    );
  });
}

const stripped = (stderr: string) => stderr.split("\n").filter((l) => l.includes("no transpile cache"));

describe("bin/keyless", () => {
  const tmp = mkdtempSync(join(tmpdir(), "keyless-compile-cache-"));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it("keeps a compile cache under TMPDIR, so a second start strips no TypeScript", async () => {
    const first = await runWithout({ TMPDIR: tmp });
    assert.equal(first.code, 78, first.stdout + first.stderr.slice(-2000));
    assert.ok(stripped(first.stderr).length > 5, "the first start strips the sources it loads");
    assert.ok(readdirSync(join(tmp, "keyless-node-compile-cache")).length > 0, "and keeps them");
    const second = await runWithout({ TMPDIR: tmp });
    assert.equal(second.code, 78);
    assert.deepEqual(stripped(second.stderr), [], "the second start finds every one in the cache");
  });

  it("uses NODE_COMPILE_CACHE when it is set, and starts normally when that folder cannot be made", async () => {
    const chosen = join(tmp, "chosen");
    assert.equal((await runWithout({ NODE_COMPILE_CACHE: chosen })).code, 78);
    assert.ok(readdirSync(chosen).length > 0);
    const { code, stdout } = await runWithout({ NODE_COMPILE_CACHE: join(ROOT, "package.json", "cache") });
    assert.equal(code, 78);
    assert.match(stdout, /invalid configuration/);
  });
});
