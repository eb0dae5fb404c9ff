/**
 * Shared by the optional interop checks (Microsoft's .NET and Python clients): a test stack with one queue per route,
 * the environment a check program gets, and its results (one JSON line per check).
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";

import { startTestStack, type TestStack } from "../support/stack.ts";

export const run = promisify(execFile);

export interface CheckResult {
  route: "connection-string" | "managed-identity-tls";
  check: string;
  ok: boolean;
  detail: string;
}

const queue = (name: string, requiresSession = false) => ({
  Name: name,
  Properties: { LockDuration: "PT5S", MaxDeliveryCount: 10, RequiresSession: requiresSession },
});

/**
 * The stack with `orders` (the worker's) and a queue per route, so the two routes never see each other's messages,
 * plus a session queue per route.
 */
export function startInteropStack(): Promise<TestStack> {
  return startTestStack({
    topology: {
      UserConfig: {
        Namespaces: [
          {
            Name: "sbemulatorns",
            Queues: [
              queue("orders"),
              queue("interop-cs"),
              queue("interop-mi"),
              queue("interop-cs-sessions", true),
              queue("interop-mi-sessions", true),
            ],
            Topics: [],
          },
        ],
        Logging: { Type: "Console" },
      },
    },
  });
}

/** What a check program reads: the stack's env file, its queues, and IMDS pinned to loopback should a client fall back to it. */
export function interopEnv(stack: TestStack): Record<string, string> {
  return {
    ...stack.env(),
    INTEROP_QUEUE_CS: "interop-cs",
    INTEROP_QUEUE_MI: "interop-mi",
    INTEROP_SESSION_QUEUE_CS: "interop-cs-sessions",
    INTEROP_SESSION_QUEUE_MI: "interop-mi-sessions",
    AZURE_POD_IDENTITY_AUTHORITY_HOST: "http://127.0.0.1:9",
  };
}

/** Runs a check program; a failing check makes it exit 1, and its lines still say which. */
export async function runChecks(
  command: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ stdout: string; results: CheckResult[] }> {
  const { stdout } = await run(command, args, {
    env: { ...process.env, ...env },
    timeout: 240_000,
    maxBuffer: 16 * 1024 * 1024,
  }).catch((error: { stdout?: string; stderr?: string }) => {
    if (error.stdout) return { stdout: error.stdout };
    throw new Error(`${command} failed: ${error.stderr ?? String(error)}`);
  });
  const results = stdout
    .split("\n")
    .filter((line) => line.startsWith("{") && line.includes('"check"'))
    .map((line) => JSON.parse(line) as CheckResult);
  return { stdout, results };
}

export const failed = (results: CheckResult[]) =>
  results.filter((r) => !r.ok).map((r) => `${r.route} ${r.check}: ${r.detail}`);
