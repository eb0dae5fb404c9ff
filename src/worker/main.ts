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
  const bootLog = createLogger({ level: env.LOG_LEVEL ?? "info" });
  let worker: WorkerHandle;
  let log;
  try {
    ({ worker, logger: log } = createWorkerFromEnv({ env, handlers }));
  } catch (error) {
    if (error instanceof ConfigError || error instanceof CredentialConfigError) {
      bootLog.fatal((error as Error).message);
      return 78; // EX_CONFIG
    }
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
    log.fatal({ err: error }, "worker failed");
    return 1;
  } finally {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
  }
}
