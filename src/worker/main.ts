import { chooseCredential, CredentialConfigError, createRoleTokenProvider } from "../identity/index.ts";
import { handlers } from "../handlers/index.ts";
import { createLogger } from "../telemetry/logger.ts";
import { loadConfig } from "./config.ts";
import { ConfigError } from "./errors.ts";
import { createWorker } from "./worker.ts";

/**
 * `keyless run`: the production worker. The only place that reads process.env, installs signal handlers and sets
 * the exit code. First SIGTERM/SIGINT drains; a second one exits at once (the broker redelivers what was locked).
 */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const bootLog = createLogger({ level: env.LOG_LEVEL ?? "info" });
  let config;
  let credential;
  try {
    config = loadConfig(env);
    credential = chooseCredential(env);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof CredentialConfigError) {
      bootLog.fatal((error as Error).message);
      return 78; // EX_CONFIG
    }
    throw error;
  }
  const log = createLogger({ level: config.logLevel });
  log.info({ identity: credential.description, source: credential.source }, "credential chosen");
  const tokens = createRoleTokenProvider({
    credential: credential.credential,
    timeoutMs: config.tokenTimeoutMs,
  });
  const worker = createWorker(config, {
    handlers,
    tokens,
    credential: credential.credential,
    credentialSource: { source: credential.source, clientId: env.AZURE_CLIENT_ID },
    logger: log,
  });

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
