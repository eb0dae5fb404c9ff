import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";

/**
 * Every ```sh block of README.md, run as written on a fresh clone, the way a newcomer follows it. The README's own
 * comments say how (and the README says so too):
 *  - "terminal N": the command runs in terminal N until Ctrl-C; a later command for terminal N Ctrl-Cs the one there
 *    first. "Ctrl-C" alone (npm start) also keeps running. Either must end cleanly on Ctrl-C (SIGINT to its group).
 *  - "exits N": the exit code to expect; every other command must exit 0.
 * Between commands the test waits, as a person would, until the local broker holds nothing active or locked. Only
 * `npm test` is not run: this test is part of it. Commands for Azure or Docker would go in another fence language
 * (there are none yet). Network: `npm install` runs offline from npm's cache; everything else is on loopback
 * (KEYLESS_STACK_PORTS=0 gives the platform free ports, so parallel runs never collide).
 */

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const NOT_RUN: Record<string, string> = { "npm test": "this test is part of npm test" };

interface Command {
  readonly text: string;
  readonly comment: string;
  /** Set for commands that keep running until Ctrl-C. */
  readonly terminal: string | undefined;
  readonly expectedExit: number;
}

/** What a command's output must show (beyond its exit code), by command. */
const EXPECTED_OUTPUT: Array<[RegExp, RegExp]> = [
  [/ send /, /sent 1\/1 to orders/],
  // Delivered once; the description wraps to the terminal, so the fix may span lines.
  [
    / dlq list orders/,
    /MissingAppRole\s+1 [\s\S]*Fix: keyless grant --identity\s+\S+\s+--api\s+\S+\s+--role Orders\.Refund/,
  ],
  [/ grant /, /granted: /],
  [/ dlq resubmit /, /resubmitted 1 message\(s\) to orders/],
  [/ doctor/, /roles for orders\.refund\s+FAIL .*keyless grant/],
  [/^npm start/, /\nsummary\n[\s\S]*9 completed, 3 dead-lettered/],
];

/** Printed once a long-running command is ready for the next step. */
const READY = /Ctrl-C|"msg":"worker state: running"/;

function shBlocks(markdown: string): Command[][] {
  return [...markdown.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => commandsOf(m[1]!));
}

function commandsOf(block: string): Command[] {
  const commands: Command[] = [];
  for (const line of block.replace(/\\\n/g, "").split("\n")) {
    const [text, comment] = splitComment(line);
    if (!text) continue; // blank, or a comment line: words for the reader
    const terminal = /terminal (\d+)/.exec(comment)?.[1] ?? (/Ctrl-C/.test(comment) ? text : undefined);
    commands.push({ text, comment, terminal, expectedExit: Number(/exits (\d+)/.exec(comment)?.[1] ?? 0) });
  }
  return commands;
}

/** "cmd 'a # b'  # note" → ["cmd 'a # b'", "note"]: a # outside quotes after a space starts the comment. */
function splitComment(line: string): [string, string] {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i += 1) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === "#" && (i === 0 || /\s/.test(line[i - 1]!))) {
      return [line.slice(0, i).trim(), line.slice(i + 1).trim()];
    }
  }
  return [line.trim(), ""];
}

interface Running {
  readonly command: Command;
  readonly child: ChildProcess;
  output(): string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: () => string) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("the README, followed on a fresh clone", () => {
  let clone: string;
  let env: Record<string, string>;
  const blocks = shBlocks(readFileSync(join(ROOT, "README.md"), "utf8"));

  before(() => {
    clone = mkdtempSync(join(tmpdir(), "keyless-readme-"));
    // A fresh clone of this repository, with the working tree's uncommitted edits on top (so what is tested is the
    // README as it stands); no node_modules, .env.local or .keyless of this checkout come along.
    execFileSync("git", ["clone", "--quiet", ROOT, clone]);
    const git = (...args: string[]) =>
      execFileSync("git", args, { cwd: ROOT, encoding: "utf8" }).split("\0").filter(Boolean);
    for (const file of git("ls-files", "-z", "--modified", "--others", "--exclude-standard")) {
      if (git("ls-files", "-z", "--deleted", "--", file).length === 0)
        cpSync(join(ROOT, file), join(clone, file));
    }
    for (const file of git("ls-files", "-z", "--deleted")) rmSync(join(clone, file), { force: true });
    env = {
      PATH: `${dirname(process.execPath)}:${process.env.PATH}`,
      HOME: process.env.HOME ?? tmpdir(),
      NO_COLOR: "1",
      KEYLESS_STACK_PORTS: "0",
      npm_config_offline: "true",
      npm_config_audit: "false",
      npm_config_fund: "false",
      npm_config_update_notifier: "false",
    };
  });
  const started: Running[] = [];
  after(() => {
    // Whatever a failed step left running (each job is its own process group, so it would outlive the test).
    for (const running of started) {
      try {
        process.kill(-running.child.pid!, "SIGKILL");
      } catch {
        // already gone
      }
    }
    rmSync(clone, { recursive: true, force: true });
  });

  const start = (command: Command): Running => {
    let output = "";
    // As a shell runs a command line (exec: the command itself, not sh, is the job whose exit code counts), in its
    // own process group like a terminal's foreground job, so Ctrl-C reaches npm/npx and the node they run.
    const child = spawn("sh", ["-c", `exec ${command.text}`], { cwd: clone, env, detached: true });
    child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
    const exited = once(child, "exit").then(([code, signal]) => ({
      code: code as number | null,
      signal: signal as NodeJS.Signals | null,
    }));
    const running = { command, child, output: () => output, exited };
    started.push(running);
    return running;
  };

  /**
   * Ctrl-C: SIGINT to the job's process group. It must end cleanly: exit 0, or end by the SIGINT itself as npm and
   * npx do (a shell shows 130), and with nothing of it left running.
   */
  const ctrlC = async (running: Running): Promise<void> => {
    const group = -running.child.pid!;
    const alive = () => {
      try {
        process.kill(group, 0);
        return true;
      } catch {
        return false;
      }
    };
    if (alive()) process.kill(group, "SIGINT");
    try {
      await until(
        () => !alive(),
        30_000,
        () => `${running.command.text} to end on Ctrl-C:\n${running.output()}`,
      );
    } finally {
      if (alive()) process.kill(group, "SIGKILL");
    }
    const { code, signal } = await running.exited;
    assert.ok(code === 0 || signal === "SIGINT", `${running.command.text} on Ctrl-C: ${code ?? signal}`);
  };

  const checkOutput = (command: Command, output: string) => {
    for (const [which, expected] of EXPECTED_OUTPUT) {
      if (which.test(command.text)) assert.match(output, expected, `${command.text}:\n${output}`);
    }
  };

  /** The broker's counts URL, from the running stack's banner; waits until nothing is active or locked. */
  const brokerSettles = async (terminals: Map<string, Running>) => {
    const url = [...terminals.values()]
      .map((t) => /broker counts\s+(http:\/\/\S+)/.exec(t.output())?.[1])
      .find(Boolean);
    if (!url) return;
    let last = "";
    await until(
      async () => {
        const { entities } = (await (await fetch(url)).json()) as {
          entities: Array<{ active: number; locked: number }>;
        };
        last = JSON.stringify(entities);
        return entities.every((e) => e.active === 0 && e.locked === 0);
      },
      30_000,
      () => `the broker never settled: ${last}`,
    );
  };

  /** Runs one block's commands in order, as a person follows them; long-running ones stay in `terminals`. */
  const follow = async (commands: readonly Command[], terminals: Map<string, Running>) => {
    for (const command of commands) {
      if (NOT_RUN[command.text]) continue;
      const previous = command.terminal ? terminals.get(command.terminal) : undefined;
      if (previous) await ctrlC(previous);
      const running = start(command);
      if (command.terminal) {
        terminals.set(command.terminal, running);
        await until(
          () => READY.test(running.output()) || running.child.exitCode !== null,
          90_000,
          () => `${command.text} to be ready:\n${running.output()}`,
        );
        assert.equal(running.child.exitCode, null, `${command.text} exited:\n${running.output()}`);
        continue;
      }
      const ended = await Promise.race([running.exited, new Promise((r) => setTimeout(r, 90_000, "hung"))]);
      if (ended === "hung") process.kill(-running.child.pid!, "SIGKILL");
      assert.deepEqual(
        ended,
        { code: command.expectedExit, signal: null },
        `${command.text}:\n${running.output()}`,
      );
      checkOutput(command, running.output());
      await brokerSettles(terminals);
    }
    // The story's end: the worker still running has completed what was resubmitted.
    if (commands.some((c) => / dlq resubmit /.test(c.text))) {
      // The worker logs the completion just after the broker has applied it: give the line a moment.
      const deadline = Date.now() + 10_000;
      while (!/"msg":"message completed"/.test(terminals.get("2")?.output() ?? "") && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      assert.match(terminals.get("2")?.output() ?? "", /"msg":"message completed"/);
    }
  };

  it("has sh blocks to run", () => {
    assert.ok(blocks.length >= 3, `${blocks.length} blocks`);
  });

  blocks.forEach((commands, index) => {
    const steps = commands.map((c) =>
      c.text
        .replace(/^node --env-file=\S+ src\/cli\/main\.ts /, "keyless ")
        .split(" ")
        .slice(0, c.text.startsWith("npx") ? 3 : 2)
        .join(" "),
    );
    it(`block ${index + 1} runs as written: ${steps.join(", ")}`, async () => {
      const terminals = new Map<string, Running>();
      let failure: unknown;
      try {
        await follow(commands, terminals);
      } catch (error) {
        failure = error;
      }
      // Ctrl-C in every terminal, last opened first; each must end cleanly. The first failure is the one reported.
      for (const running of [...terminals.values()].reverse()) {
        try {
          await ctrlC(running);
          checkOutput(running.command, running.output());
        } catch (error) {
          failure ??= error;
        }
      }
      if (failure) throw failure;
    });
  });

  it("leaves out only what it says it does", () => {
    const all = blocks.flat().map((c) => c.text);
    assert.deepEqual(
      all.filter((t) => NOT_RUN[t]),
      Object.keys(NOT_RUN),
    );
  });
});
