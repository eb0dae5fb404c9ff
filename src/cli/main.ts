#!/usr/bin/env node
/**
 * `keyless` — one entry for every command. Commands are imported lazily so that `keyless run` can start
 * telemetry before any instrumented module (the Azure SDKs, http) is loaded.
 */
import { stderr } from "node:process";

import { trustExtraCaFromEnvironment } from "./extra-ca.ts";

const COMMANDS: Record<
  string,
  { summary: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> }
> = {
  run: { summary: "run the worker from the environment (production)", load: () => import("./run.ts") },
  dev: {
    summary: "start the local stack, a worker and demo messages (npm start)",
    load: () => import("./dev.ts"),
  },
  stack: {
    summary: "start the local platform: identity, Service Bus broker, sample API",
    load: () => import("./stack.ts"),
  },
  grant: {
    summary: "grant an API's app role to a managed identity (Microsoft Graph)",
    load: () => import("./grant.ts"),
  },
  revoke: { summary: "remove an app role from a managed identity", load: () => import("./revoke.ts") },
  roles: { summary: "list the app roles an identity holds, per API", load: () => import("./roles.ts") },
  doctor: {
    summary: "check configuration, credential, tokens, roles and entities",
    load: () => import("./doctor.ts"),
  },
  send: {
    summary: "enqueue messages (inline, from a JSON-lines file, or a load run)",
    load: () => import("./send.ts"),
  },
  dlq: { summary: "list, resubmit or purge dead-lettered messages", load: () => import("./dlq.ts") },
};

export async function cli(argv: string[]): Promise<number> {
  // bin/keyless puts the arguments behind "--" so Node does not take --env-file for itself.
  const [name, ...rest] = argv[0] === "--" ? argv.slice(1) : argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
    stderr.write(
      `usage: keyless <command> [options]\n\ncommands:\n${Object.entries(COMMANDS)
        .map(([c, { summary }]) => `  ${c.padEnd(width)}  ${summary}`)
        .join("\n")}\n\n'keyless <command> --help' shows a command's options and examples.\n`,
    );
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    stderr.write(`keyless: unknown command '${name}'. Commands: ${Object.keys(COMMANDS).join(", ")}\n`);
    return 2;
  }
  trustExtraCaFromEnvironment();
  try {
    return await (await command.load()).run(rest);
  } catch (error) {
    if (!isLocalPlatformMissing(error)) throw error;
    stderr.write(
      `keyless ${name}: this installation has no local platform (@keyless/local): the worker image carries only ` +
        `what the worker and the operator commands need. Run it from a clone (npm install, then npx keyless ${name}) ` +
        `or from the stack image (docker build --target stack .; docker compose does this).\n`,
    );
    return 69; // EX_UNAVAILABLE
  }
}

/** `keyless stack` and `keyless dev` in the worker image, which is built without src/local and its dependencies. */
function isLocalPlatformMissing(error: unknown): boolean {
  const { code, message } = error as { code?: unknown; message?: unknown };
  return code === "ERR_MODULE_NOT_FOUND" && String(message).includes("@keyless/local");
}

if (import.meta.main) {
  cli(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      // A usage mistake is one line that says what to do; anything else is a bug worth its stack trace.
      const usage = (error as Error | undefined)?.name === "UsageError";
      const text = usage ? (error as Error).message : `keyless: ${(error as Error).stack ?? String(error)}`;
      stderr.write(`${text}\n`);
      process.exitCode = usage ? 2 : 1;
    },
  );
}
