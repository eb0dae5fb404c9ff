import type { ServiceBusClientOptions } from "@azure/service-bus";
import type { Logger } from "pino";

import { chooseCredential, createRoleTokenProvider } from "../identity/index.ts";
import { createLogger } from "../telemetry/logger.ts";
import { loadConfig, type WorkerConfig } from "./config.ts";
import type { HandlerMap } from "./handler.ts";
import { createWorker, type WorkerHandle } from "./worker.ts";

export interface WorkerFromEnvOptions {
  /** The environment to read (process.env in production; a test stack's in tests). */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly handlers: HandlerMap;
  /** Default: pino at LOG_LEVEL. */
  readonly logger?: Logger;
  /** Longest wait of one receive call; shorter makes stop and tests snappier. Default 5 s. */
  readonly receiveWaitMs?: number;
  readonly serviceBusClientOptions?: ServiceBusClientOptions;
  readonly fetch?: typeof fetch;
}

/**
 * The one composition root: validates the environment, chooses the credential (never a chain, never a secret),
 * builds the role-token provider and starts the worker with `handlers`. `keyless run`, `keyless dev`, the tests and
 * the benchmark all make their worker here. Throws ConfigError or CredentialConfigError, each naming its variable.
 */
export function createWorkerFromEnv(options: WorkerFromEnvOptions): {
  readonly worker: WorkerHandle;
  readonly config: WorkerConfig;
  readonly logger: Logger;
  /** Who the worker runs as, safe to print (ids, never a secret). */
  readonly identity: string;
} {
  const config = loadConfig(options.env);
  const chosen = chooseCredential(options.env);
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  logger.info({ identity: chosen.description, source: chosen.source }, "credential chosen");
  const worker = createWorker(config, {
    handlers: options.handlers,
    tokens: createRoleTokenProvider({ credential: chosen.credential, timeoutMs: config.tokenTimeoutMs }),
    credential: chosen.credential,
    credentialSource: { source: chosen.source, clientId: options.env.AZURE_CLIENT_ID },
    logger,
    ...(options.receiveWaitMs !== undefined ? { receiveWaitMs: options.receiveWaitMs } : {}),
    ...(options.serviceBusClientOptions ? { serviceBusClientOptions: options.serviceBusClientOptions } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  return { worker, config, logger, identity: chosen.description };
}
