import type { Logger } from "pino";

import { CredentialConfigError } from "../identity/index.ts";
import { createLogger } from "../telemetry/logger.ts";
import { ConfigError } from "./errors.ts";
import type { HandlerMap } from "./handler.ts";
import { createWorkerFromEnv } from "./start.ts";
import type { WorkerHandle } from "./worker.ts";

/**
 * `keyless run`: the production worker with the handlers it is given. The only place that installs signal handlers
 * and sets the exit code. First SIGTERM/SIGINT drains; a second one exits at once (the broker redelivers what was
 * locked).
 */
export async function main(handlers: HandlerMap, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  // Not LOG_LEVEL: it may be the very thing that is wrong, and a configuration error must always be seen.
  const bootLog = createLogger({ level: "info" });
  let worker: WorkerHandle;
  let log: Logger;
  try {
    ({ worker, logger: log } = createWorkerFromEnv({ env, handlers }));
  } catch (error) {
    if (isConfigProblem(error)) return configFailure(bootLog, error);
    throw error;
  }

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals === 1) {
      log.info({ signal }, "stopping: draining in-flight messages");
      void worker.stop(`received ${signal}`);
    } else {
      log.warn({ signal }, "second signal: exiting now; locked messages return when their locks expire");
      process.exit(130);
    }
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  try {
    await worker.started;
    await worker.stopped;
    return 0;
  } catch (error) {
    // A handler whose API is not configured, or WORKER_FAIL_ON_MISSING_ROLES with a role missing.
    if (isConfigProblem(error)) return configFailure(log, error);
    log.fatal({ err: error }, "worker failed");
    return 1;
  } finally {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
  }
}

const EX_CONFIG = 78;

const isConfigProblem = (error: unknown): error is Error =>
  error instanceof ConfigError || error instanceof CredentialConfigError;

/**
 * One log line that names every variable at fault and its fix, without a stack trace (the stack says nothing an
 * operator can act on), then EX_CONFIG.
 */
function configFailure(log: Logger, error: Error): number {
  const [heading, ...problems] = error.message
    .split("\n")
    .map((line) => line.trim().replace(/^- /, ""))
    .filter(Boolean);
  log.fatal({ problems }, `${heading} ${problems.join("; ")}`);
  return EX_CONFIG;
}
