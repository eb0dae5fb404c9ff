import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";

import { until } from "../worker/support.ts";

const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const SETTLED = "all 12 demo messages settled — Ctrl-C for the summary";

/** `keyless dev` (what `npm start` runs) as people watch it: until it goes quiet, then Ctrl-C. */
describe("keyless dev", () => {
  let dir: string;
  let child: ChildProcess;
  let output = "";

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "keyless-dev-")); // its development CA goes under .keyless/ here
    child = spawn(process.execPath, [MAIN, "dev"], {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
    await until(() => output.includes(SETTLED) || child.exitCode !== null, 60_000, `"${SETTLED}"`);
  });
  after(async () => {
    if (child.exitCode === null) child.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  });

  it("says when every demo message has settled, after the last outcome and span tree", () => {
    const lines = output.split("\n");
    const settled = lines.findIndex((l) => l.startsWith(SETTLED));
    assert.ok(settled > 0, output);
    const outcomes = lines.filter((l) => /^ {2}(✔ completed|✖ dead-letter)/.test(l));
    assert.equal(outcomes.length, 12, output);
    assert.equal(lines.filter((l) => /^ {2}┌ spans of /.test(l)).length, 12, output);
    assert.ok(
      lines.findLastIndex((l) => /^ {2}(✔ completed|✖ dead-letter|┌ spans of )/.test(l)) < settled,
      "nothing of the demo comes after the settled line",
    );
  });

  it("shows the ordered flow: order B's parcels complete in order although the first is slow, beside order C", () => {
    const lines = output.split("\n");
    const completed = (label: string) =>
      lines.findIndex((l) => new RegExp(`^ {2}✔ completed\\s+${label} `).test(l));
    const [b1, b2, b3, c1] = ["B-1", "B-2", "B-3", "C-1"].map(completed);
    assert.ok(b1! > 0 && b1! < b2! && b2! < b3!, `B in order: ${b1}, ${b2}, ${b3}\n${output}`);
    assert.ok(c1! > 0 && c1! < b1!, "order C's session ran beside B's slow first parcel");
  });

  it("prints the preflight as a table, not as an escaped log string", () => {
    const lines = output.split("\n");
    const header = lines.findIndex((l) => /^handler\s+api\s+needs\s+has\s+status$/.test(l));
    assert.ok(header > 0, output);
    assert.match(lines[header - 1]!, /^preflight: the identity lacks Orders\.Refund/);
    assert.match(lines[header + 1]!, /^-+\s+-+\s+-+\s+-+\s+-+$/);
    assert.match(
      lines[header + 2]!,
      /^orders\.fulfil\s+orders\s+Orders\.Fulfil\s+Orders\.Read, Orders\.Fulfil\s+ok$/,
    );
    assert.match(lines[header + 3]!, /^orders\.refund\s+orders\s+Orders\.Refund\s+.*MISSING Orders\.Refund$/);
    assert.ok(!output.includes("\\n"), "no escaped newlines anywhere");
  });

  it("prints the summary on Ctrl-C and exits 0", async () => {
    child.kill("SIGINT");
    const [code] = (await once(child, "exit")) as [number | null];
    assert.equal(code, 0, output);
    assert.match(output, /\nsummary\n/);
    assert.match(output, /9 completed, 3 dead-lettered, 3 in-process retries/);
  });
});
