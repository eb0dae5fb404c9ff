import type { Logger } from "pino";

import { CredentialConfigError } from "../identity/index.ts";
import { createLogger } from "../telemetry/logger.ts";
import { ConfigError } from "./errors.ts";
import type { HandlerMap } from "./handler.ts";
import { createWorkerFromEnv } from "./start.ts";
import type { WorkerHandle } from "./worker.ts";

/**
 * `keyless run`: the production worker with the handlers it is given. The only place that installs signal and
 * process-error handlers and sets the exit code. First SIGTERM/SIGINT drains; a second one exits at once (the broker
 * redelivers what was locked). An unhandled rejection drains too, then exits 1.
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

  // A rejection nobody handled is a bug in some fire-and-forget path, not in one message. Node would crash and
  // leave every in-flight message locked until its lock expires, a handler possibly half done; draining lets each
  // one end in its own outcome first. Exit 1 afterwards, so the platform restarts a worker in a known state.
  let unhandled = 0;
  const onUnhandledRejection = (reason: unknown) => {
    unhandled += 1;
    if (unhandled === 1) {
      log.fatal(
        { err: reason },
        "unhandled promise rejection (a bug): draining in-flight messages, then exiting 1",
      );
      void worker.stop("unhandled promise rejection");
    } else {
      log.error({ err: reason }, "another unhandled promise rejection while draining");
    }
  };
  // An uncaught exception leaves the process in an unknown state: Node's crash stays, with one structured line first.
  const onUncaughtException = (error: Error) => log.fatal({ err: error }, "uncaught exception: exiting");
  process.on("unhandledRejection", onUnhandledRejection);
  process.on("uncaughtExceptionMonitor", onUncaughtException);

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
    return unhandled > 0 ? 1 : 0;
  } catch (error) {
    // A handler whose API is not configured, or WORKER_FAIL_ON_MISSING_ROLES with a role missing.
    if (isConfigProblem(error)) return configFailure(log, error);
    log.fatal({ err: error }, "worker failed");
    return 1;
  } finally {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
    process.off("unhandledRejection", onUnhandledRejection);
    process.off("uncaughtExceptionMonitor", onUncaughtException);
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
