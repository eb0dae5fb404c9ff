import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

export interface KeylessRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout parsed as one JSON value (commands run with --json). */
  json<T = Record<string, unknown>>(): T;
}

/**
 * Runs `keyless …` as its own process, the way people and containers run it. A fresh process also means a fresh
 * MSAL token cache, so it sees role changes made by the test.
 */
export function runKeyless(
  args: string[],
  env: Record<string, string | undefined>,
  input?: string,
): Promise<KeylessRun> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [MAIN, ...args],
      {
        env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
        timeout: 60_000,
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({
          code,
          stdout,
          stderr,
          json: <T>() => {
            try {
              return JSON.parse(stdout) as T;
            } catch {
              throw new Error(`not JSON (exit ${code}):\n${stdout}\nstderr:\n${stderr}`);
            }
          },
        });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
    else child.stdin?.end();
  });
}
