import type { TokenCredential } from "@azure/identity";
import { ServiceBusClient, type ServiceBusClientOptions } from "@azure/service-bus";
import { context as otelContext, ROOT_CONTEXT } from "@opentelemetry/api";
import type { Logger } from "pino";

import type { RoleTokenSource } from "./api-client.ts";
import { sleep } from "./backoff.ts";
import type { WorkerConfig } from "./config.ts";
import { Dispatcher, type OutcomeEvent } from "./dispatcher.ts";
import { ConfigError, ShutdownAbortError } from "./errors.ts";
import type { HandlerMap } from "./handler.ts";
import { type HealthReport, startHealthServer } from "./health-server.ts";
import { createLifecycle, type WorkerState } from "./lifecycle.ts";
import { type PreflightResult, runPreflight } from "./preflight.ts";
import { receiveLoop } from "./receive-loop.ts";
import { Releasers } from "./releasers.ts";

export interface WorkerDeps {
  readonly handlers: HandlerMap;
  /** Role-scoped tokens for the APIs (src/identity's provider in production). */
  readonly tokens: RoleTokenSource;
  /** The Service Bus credential when the config names a namespace (managed identity in production). */
  readonly credential?: TokenCredential;
  readonly logger: Logger;
  readonly serviceBusClientOptions?: ServiceBusClientOptions;
  readonly fetch?: typeof fetch;
  readonly onOutcome?: (event: OutcomeEvent) => void;
  readonly onStateChange?: (state: WorkerState) => void;
  /** Longest wait of one receive call; shorter makes stop and tests snappier. Default 5 s. */
  readonly receiveWaitMs?: number;
}

export interface WorkerHandle {
  readonly state: WorkerState;
  /** Resolves once the worker is running; rejects if it could not start. */
  readonly started: Promise<void>;
  /** Resolves once the worker has stopped cleanly; rejects if it failed. */
  readonly stopped: Promise<void>;
  /** The health server's port, once started (undefined when it is off). */
  readonly healthPort: number | undefined;
  readonly preflight: PreflightResult | undefined;
  readiness(): HealthReport;
  /**
   * Stops in this order: stop receiving; abandon messages not yet started; let running handlers finish within
   * WORKER_SHUTDOWN_GRACE_MS; abort the rest (their messages are abandoned for prompt redelivery); close the
   * receivers, the Service Bus client and the health server. Calling it again returns the same promise.
   */
  stop(reason?: string): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Builds a worker from a validated config and its dependencies and starts it. Pure: it reads no environment and
 * installs no signal handlers (that is main.ts's job). The handle exists before anything async can fail.
 */
export function createWorker(config: WorkerConfig, deps: WorkerDeps): WorkerHandle {
  const log = deps.logger;
  const lifecycle = createLifecycle(log, deps.onStateChange);
  const releasers = new Releasers();
  const draining = new AbortController();
  const abortNow = new AbortController();
  const entityHealth = new Map<string, { receiving: boolean; problem?: string }>(
    config.entities.map((e) => [e.path, { receiving: false }]),
  );
  let preflight: PreflightResult | undefined;
  let healthPort: number | undefined;
  let loops: Promise<void>[] = [];
  let stopPromise: Promise<void> | undefined;

  const dispatcher = new Dispatcher({
    config,
    handlers: deps.handlers,
    tokens: deps.tokens,
    log,
    draining: draining.signal,
    abortNow: abortNow.signal,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
    ...(deps.onOutcome ? { onOutcome: deps.onOutcome } : {}),
  });

  const readiness = (): HealthReport => {
    const entities = Object.fromEntries(entityHealth);
    const receiving = [...entityHealth.values()].every((e) => e.receiving);
    const ok = lifecycle.state === "running" && receiving && preflight?.tokensOk === true;
    return {
      ok,
      body: {
        ready: ok,
        state: lifecycle.state,
        entities,
        preflight: preflight
          ? { tokensOk: preflight.tokensOk, missingRoles: preflight.missingRoles, rows: preflight.rows }
          : { pending: true },
        held: dispatcher.held,
        running: dispatcher.running,
      },
    };
  };

  const checkRoles = async (): Promise<void> => {
    // Until every API gives a token we are not ready; keep asking in the background.
    for (let attempt = 1; !draining.signal.aborted; attempt += 1) {
      preflight = await runPreflight(deps.handlers, config.apis, deps.tokens);
      // The table travels as rows (structured data in the JSON log); the dev view prints it as a table.
      if (preflight.tokensOk) {
        const missing = preflight.missingRoles;
        if (missing.length > 0) {
          log.warn(
            { preflight: preflight.rows },
            `preflight: the identity lacks ${missing.join(", ")}; those messages will be dead-lettered (MissingAppRole)`,
          );
        } else log.info({ preflight: preflight.rows }, "preflight: every handler's roles are granted");
        return;
      }
      log.warn(
        { preflight: preflight.rows, attempt },
        "preflight: could not get a token for every API; not ready yet",
      );
      await sleep(Math.min(30_000, 1_000 * 2 ** Math.min(attempt, 5)), draining.signal).catch(
        () => undefined,
      );
    }
  };

  const start = async () => {
    const unknownApis = Object.values(deps.handlers)
      .filter((h) => !config.apis[h.api.toLowerCase()])
      .map(
        (h) =>
          `handler ${h.subject} calls API "${h.api}": set API_${h.api.toUpperCase()}_BASE_URL and API_${h.api.toUpperCase()}_SCOPE`,
      );
    if (unknownApis.length > 0) throw new ConfigError(unknownApis);

    if (config.healthPort !== undefined) {
      const health = await startHealthServer({
        port: config.healthPort,
        liveness: () => ({
          ok: lifecycle.state !== "failed",
          body: { alive: lifecycle.state !== "failed", state: lifecycle.state },
        }),
        readiness,
      });
      healthPort = health.port;
      releasers.add("health server", () => health.close());
      log.info({ port: health.port }, "health endpoints listening on /healthz and /readyz");
    }

    const firstPreflight = checkRoles();
    if (config.failOnMissingRoles) {
      await firstPreflight;
      if (preflight && preflight.missingRoles.length > 0) {
        throw new ConfigError([
          `WORKER_FAIL_ON_MISSING_ROLES is true and the identity lacks ${preflight.missingRoles.join(", ")}; grant them (keyless grant) or set it to false`,
        ]);
      }
    } else {
      void firstPreflight;
    }

    const client = otelContext.with(ROOT_CONTEXT, () => createServiceBusClient(config, deps));
    releasers.add("service bus client", () => client.close());
    log.info(
      config.serviceBus.kind === "identity"
        ? { namespace: config.serviceBus.fullyQualifiedNamespace, auth: "token credential" }
        : { endpoint: config.serviceBus.endpoint, auth: "connection string (development mode)" },
      "connecting to Service Bus",
    );

    loops = config.entities.map((entity) =>
      receiveLoop({
        client: () => client,
        entity,
        budget: config.concurrency + config.readAhead,
        held: () => dispatcher.held,
        waitForRoom: (budget, signal) => dispatcher.waitForRoom(budget, signal),
        dispatch: (message, receiver, e, done) => dispatcher.dispatch(message, receiver, e, done),
        stop: draining.signal,
        log,
        ...(deps.receiveWaitMs !== undefined ? { maxWaitMs: deps.receiveWaitMs } : {}),
        onHealth: (receiving, problem) =>
          entityHealth.set(entity.path, problem === undefined ? { receiving } : { receiving, problem }),
      }),
    );
    lifecycle.set("running", {
      entities: config.entities.map((e) => e.path),
      concurrency: config.concurrency,
    });
  };

  const started = start();
  let stoppedResolvers: { resolve: () => void; reject: (e: Error) => void } | undefined;
  const stopped = new Promise<void>((resolve, reject) => {
    started.catch(async (error: unknown) => {
      lifecycle.set("failed", { err: (error as Error).message });
      await releasers.releaseAll().catch(() => undefined);
      reject(error as Error);
    });
    stoppedResolvers = { resolve, reject };
  });
  // Keep an unobserved failure from crashing the process: callers observe `stopped` or `started`.
  stopped.catch(() => undefined);

  const stop = (reason = "stop requested"): Promise<void> => {
    stopPromise ??= (async () => {
      try {
        await started;
      } catch {
        return; // failed to start: already cleaned up
      }
      lifecycle.set("draining", { reason, held: dispatcher.held, running: dispatcher.running });
      draining.abort(new ShutdownAbortError(reason));
      dispatcher.cancelWaiting();
      await Promise.allSettled(loops);
      const finished = await withinMs(dispatcher.idle(), config.shutdownGraceMs);
      if (!finished) {
        log.warn(
          { running: dispatcher.running },
          "shutdown grace period over: aborting running handlers and abandoning their messages",
        );
        abortNow.abort(new ShutdownAbortError("shutdown grace period over"));
        await withinMs(dispatcher.idle(), 5_000);
      }
      try {
        await releasers.releaseAll();
      } catch (error) {
        log.warn({ err: (error as Error).message }, "some resources did not close cleanly");
      }
      lifecycle.set("stopped");
      stoppedResolvers?.resolve();
    })();
    return stopPromise;
  };

  return {
    get state() {
      return lifecycle.state;
    },
    started,
    stopped,
    get healthPort() {
      return healthPort;
    },
    get preflight() {
      return preflight;
    },
    readiness,
    stop,
    [Symbol.asyncDispose]: () => stop("disposed"),
  };
}

/** True when `promise` settles within `ms`; the timer is cleared either way so it never holds the process open. */
async function withinMs(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const timer = new AbortController();
  try {
    return await Promise.race([promise.then(() => true), sleep(ms, timer.signal).then(() => false)]);
  } finally {
    timer.abort();
  }
}

function createServiceBusClient(config: WorkerConfig, deps: WorkerDeps): ServiceBusClient {
  const options: ServiceBusClientOptions = deps.serviceBusClientOptions ?? {};
  if (config.serviceBus.kind === "connectionString") {
    return new ServiceBusClient(config.serviceBus.connectionString, options);
  }
  if (!deps.credential) {
    throw new ConfigError([
      "SERVICEBUS_FULLY_QUALIFIED_NAMESPACE is set but no credential was provided to the worker",
    ]);
  }
  return new ServiceBusClient(config.serviceBus.fullyQualifiedNamespace, deps.credential, options);
}
