import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const { nodeVersionProblem } = createRequire(import.meta.url)("../../bin/check-node.cjs") as {
  nodeVersionProblem(version: string): string | undefined;
};

/** The machine's own Node when it is too old for keyless (20 on ours); undefined elsewhere. */
function oldNode(): string | undefined {
  const candidate = "/usr/bin/node";
  if (!existsSync(candidate)) return undefined;
  const version = execFileSync(candidate, ["-p", "process.versions.node"], { encoding: "utf8" }).trim();
  return nodeVersionProblem(version) ? candidate : undefined;
}

function runWith(node: string, command: string, args: string[]) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(
      command,
      args,
      {
        cwd: ROOT,
        // The old Node first on PATH, as on a machine that has only it.
        env: { PATH: `${dirname(node)}:${process.env.PATH}`, HOME: process.env.HOME, NO_COLOR: "1" },
        timeout: 60_000,
      },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

describe("an old Node.js", () => {
  it("is told in one line what is needed and how to get it", () => {
    const problem = nodeVersionProblem("20.20.2");
    assert.ok(problem);
    assert.doesNotMatch(problem, /\n/);
    assert.match(problem, /needs Node\.js 22\.19 or newer \(24 is the reference\)/);
    assert.match(problem, /this is Node\.js 20\.20\.2/);
    assert.match(problem, /nvm install 24/);
    assert.match(problem, /source \.ci\/node\.sh/);
  });

  it("is turned away below 22.19 and let through from 22.19 on", () => {
    for (const version of ["18.20.0", "20.20.2", "22.18.0", "v22.0.1"]) {
      assert.ok(nodeVersionProblem(version), version);
    }
    for (const version of ["22.19.0", "22.20.1", "23.0.0", "24.11.0", "v25.1.0"]) {
      assert.equal(nodeVersionProblem(version), undefined, version);
    }
  });

  const node = oldNode();
  const entries: Array<[string, string, string[]]> = [
    ["bin/keyless", `${ROOT}bin/keyless`, ["doctor"]],
    ["npm start", "npm", ["start"]],
    ["npm test", "npm", ["test"]],
  ];
  for (const [name, command, args] of entries) {
    it(
      `stops ${name} with that line before anything else runs`,
      { skip: node ? false : "no Node older than 22.19 at /usr/bin/node here" },
      async () => {
        const run = await runWith(node!, command, args);
        assert.notEqual(run.code, 0);
        const lines = run.stderr.trim().split("\n");
        assert.equal(lines.length, 1, run.stderr);
        assert.match(lines[0]!, /^keyless-worker needs Node\.js 22\.19 or newer .* this is Node\.js \d+\./);
        assert.doesNotMatch(run.stderr + run.stdout, /ERR_UNKNOWN_FILE_EXTENSION|Could not find/);
        assert.doesNotMatch(run.stdout, /> keyless-worker@[\d.]+ lint/, "npm test stops before lint");
      },
    );
  }
});
