import type { TokenCredential } from "@azure/identity";
import { ServiceBusClient, type ServiceBusClientOptions } from "@azure/service-bus";
import { type ObservableResult, context as otelContext, ROOT_CONTEXT } from "@opentelemetry/api";
import type { Logger } from "pino";

import type { RoleTokenSource } from "./api-client.ts";
import { missingApiFix, requiresSession, type WorkerConfig } from "./config.ts";
import { type CredentialSource, resourceOf } from "../identity/index.ts";
import { Custody } from "./custody.ts";
import { Dispatcher } from "./dispatcher.ts";
import type { EntityLoopOptions } from "./entity-loop.ts";
import { type WorkerEventOf, WorkerEvents, type WorkerEventType } from "./events.ts";
import { ConfigError, ShutdownAbortError } from "./errors.ts";
import { receiveFix, tokenFix } from "./fixes.ts";
import type { HandlerMap } from "./handler.ts";
import { type HealthReport, startHealthServer } from "./health-server.ts";
import { createLifecycle, type WorkerState } from "./lifecycle.ts";
import { type PreflightResult, runPreflight } from "./preflight.ts";
import { receiveLoop } from "./receive-loop.ts";
import { Releasers } from "./releasers.ts";
import { sessionLoop } from "./session-loop.ts";
import { settlesWithin, withinTime } from "../shared/time-limit.ts";
import { ATTR } from "../telemetry/attributes.ts";
import { workerMetrics } from "../telemetry/metrics.ts";
import { reportingCredential, SERVICE_BUS_SCOPE, SERVICE_BUS_SOURCE, TokenHealth } from "./token-health.ts";

export interface WorkerDeps {
  readonly handlers: HandlerMap;
  /** Role-scoped tokens for the APIs (src/identity's provider in production). */
  readonly tokens: RoleTokenSource;
  /** The Service Bus credential when the config names a namespace (managed identity in production). */
  readonly credential?: TokenCredential;
  /** Where the credential gets tokens, so failures can name their fix (chooseCredential's `source`). */
  readonly credentialSource?: { readonly source: CredentialSource; readonly clientId?: string | undefined };
  readonly logger: Logger;
  readonly serviceBusClientOptions?: ServiceBusClientOptions;
  readonly fetch?: typeof fetch;
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
  /** Deliveries started, retried and settled, and state changes, as typed events (src/worker/events.ts). */
  on<T extends WorkerEventType>(type: T, listener: (event: WorkerEventOf<T>) => void): () => void;
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
  const events = new WorkerEvents((error) =>
    log.warn({ err: (error as Error)?.message ?? String(error) }, "a worker event listener threw"),
  );
  const lifecycle = createLifecycle(log, (state, previous) =>
    events.emit({ type: "state", state, previous }),
  );
  const releasers = new Releasers();
  const draining = new AbortController();
  const abortNow = new AbortController();
  const entityHealth = new Map<string, { receiving: boolean; problem?: string; fix?: string }>(
    config.entities.map((e) => [e.path, { receiving: false }]),
  );
  let preflight: PreflightResult | undefined;
  let healthPort: number | undefined;
  let loops: Promise<void>[] = [];
  const pendingAccepts = new Set<Promise<unknown>>();
  let stopPromise: Promise<void> | undefined;

  // One bound on what the worker holds across all entities, shared fairly (src/worker/custody.ts).
  const custody = new Custody(
    config.concurrency + config.readAhead,
    config.entities.map((e) => e.path),
  );
  const tokenHealth = new TokenHealth({
    log,
    stop: draining.signal,
    fixFor: (source, error) => {
      if (!deps.credentialSource) return undefined;
      const api = config.apis[source];
      return tokenFix(deps.credentialSource.source, {
        clientId: deps.credentialSource.clientId,
        ...(api ? { resource: resourceOf(api.scope) } : {}),
        error,
      });
    },
  });
  for (const api of Object.values(config.apis)) {
    tokenHealth.register(api.name, () => deps.tokens.getToken(api, []));
  }
  const serviceBusCredential = deps.credential && reportingCredential(deps.credential, tokenHealth);
  if (deps.credential) {
    const credential = deps.credential;
    tokenHealth.register(SERVICE_BUS_SOURCE, () =>
      withinTime(credential.getToken(SERVICE_BUS_SCOPE), config.tokenTimeoutMs, "token for Service Bus"),
    );
  }

  const dispatcher = new Dispatcher({
    config,
    handlers: deps.handlers,
    tokens: deps.tokens,
    tokenHealth,
    log,
    draining: draining.signal,
    abortNow: abortNow.signal,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
    events,
  });

  const readiness = (): HealthReport => {
    const entities = Object.fromEntries(entityHealth);
    const receiving = [...entityHealth.values()].every((e) => e.receiving);
    const ok =
      lifecycle.state === "running" && receiving && preflight?.tokensOk === true && tokenHealth.allUp;
    return {
      ok,
      body: {
        ready: ok,
        state: lifecycle.state,
        entities,
        tokens: tokenHealth.report(),
        preflight: preflight
          ? { tokensOk: preflight.tokensOk, missingRoles: preflight.missingRoles, rows: preflight.rows }
          : { pending: true },
        held: custody.held,
        running: dispatcher.running,
        custody: custody.snapshot(),
      },
    };
  };

  const checkRoles = async (): Promise<void> => {
    // Until every API gives a token we are not ready; the token health's probes say when to ask again.
    for (let attempt = 1; !draining.signal.aborted; attempt += 1) {
      preflight = await runPreflight(deps.handlers, config.apis, deps.tokens);
      for (const row of preflight.rows) {
        if (!config.apis[row.api]) continue;
        if (row.error === undefined) tokenHealth.succeeded(row.api);
        else tokenHealth.failed(row.api, new Error(row.error));
      }
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
      await tokenHealth.waitForAll(draining.signal).catch(() => undefined);
    }
  };

  const start = async () => {
    const unknownApis = Object.values(deps.handlers)
      .filter((h) => !config.apis[h.api.toLowerCase()])
      .map((h) => `handler ${h.subject} calls API "${h.api}": ${missingApiFix(h.api)}`);
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

    // keyless.messages.in_flight: what the custody holds per entity, read when metrics are collected.
    const inFlight = workerMetrics.inFlight();
    const observeInFlight = (result: ObservableResult) => {
      for (const [path, e] of Object.entries(custody.snapshot().entities))
        result.observe(e.held, { [ATTR.MESSAGING_DESTINATION]: path });
    };
    inFlight.addCallback(observeInFlight);
    releasers.add("in-flight metric", () => inFlight.removeCallback(observeInFlight));

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

    const client = otelContext.with(ROOT_CONTEXT, () =>
      createServiceBusClient(config, deps, serviceBusCredential),
    );
    releasers.add("service bus client", () => client.close());
    // Session entities get a client of their own whose operation timeout bounds how long the broker holds an accept
    // of the next session: the SDK cannot abort that wait, and its timer keeps a stopped process alive until it ends.
    const sessionClient =
      config.sessionEntities.length === 0
        ? client
        : otelContext.with(ROOT_CONTEXT, () =>
            createServiceBusClient(config, deps, serviceBusCredential, SESSION_ACCEPT_WAIT_MS),
          );
    if (sessionClient !== client) releasers.add("service bus session client", () => sessionClient.close());
    // Released before the client: accepts still held end within the accept wait (the broker answers them).
    releasers.add("pending session accepts", () =>
      settlesWithin(Promise.allSettled([...pendingAccepts]), SESSION_ACCEPT_WAIT_MS + 1_000).then(
        () => undefined,
      ),
    );
    log.info(
      config.serviceBus.kind === "identity"
        ? { namespace: config.serviceBus.fullyQualifiedNamespace, auth: "token credential" }
        : { endpoint: config.serviceBus.endpoint, auth: "connection string (development mode)" },
      "connecting to Service Bus",
    );

    loops = config.entities.map((entity) => {
      const common: EntityLoopOptions = {
        client: () => client,
        entity,
        custody,
        tokenHealth,
        stop: draining.signal,
        log,
        onHealth: (receiving, problem, fix) =>
          entityHealth.set(
            entity.path,
            problem === undefined ? { receiving } : { receiving, problem, ...(fix ? { fix } : {}) },
          ),
        fixFor: (code, message) => receiveFix(code, entity, config, preflight?.objectId, message),
      };
      // A session entity is processed session by session, in order (session-loop.ts); any other by a credit window.
      if (requiresSession(config, entity)) {
        return sessionLoop({
          ...common,
          client: () => sessionClient,
          pendingAccepts,
          dispatch: (record, message, receiver, e, session) =>
            dispatcher.dispatch(record, message, receiver, e, session),
          maxSessions: config.maxConcurrentSessions,
          idleMs: config.sessionIdleMs,
          maxLockRenewalMs: config.maxLockRenewalMs,
        });
      }
      return receiveLoop({
        ...common,
        dispatch: (record, message, receiver, e) => void dispatcher.dispatch(record, message, receiver, e),
        ...(deps.receiveWaitMs !== undefined ? { maxWaitMs: deps.receiveWaitMs } : {}),
      });
    });
    lifecycle.set("running", {
      entities: config.entities.map((e) => e.path),
      ...(config.sessionEntities.length > 0
        ? { sessionEntities: config.sessionEntities, maxConcurrentSessions: config.maxConcurrentSessions }
        : {}),
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
      lifecycle.set("draining", { reason, held: custody.held, running: dispatcher.running });
      draining.abort(new ShutdownAbortError(reason));
      dispatcher.cancelWaiting();
      await Promise.allSettled(loops);
      const finished = await settlesWithin(custody.idle(), config.shutdownGraceMs);
      if (!finished) {
        log.warn(
          { running: dispatcher.running },
          "shutdown grace period over: aborting running handlers and abandoning their messages",
        );
        abortNow.abort(new ShutdownAbortError("shutdown grace period over"));
        // Aborted handlers settle (abandon) within one settle timeout per path.
        await settlesWithin(custody.idle(), 2 * config.settleTimeoutMs + 1_000);
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
    on: (type, listener) => events.on(type, listener),
    stop,
    [Symbol.asyncDispose]: () => stop("disposed"),
  };
}

/**
 * The worker retries on its own (receive loop with backoff, bounded settlement with a fallback, its own lock
 * renewal), so the SDK gets one quick retry instead of its default three, 30 s apart: a refusal such as
 * UnauthorizedAccess on an entity the identity has no role on then reaches the worker, which says so at once with
 * the fix, in seconds rather than after 90.
 */
const WORKER_SERVICE_BUS_OPTIONS: ServiceBusClientOptions = {
  retryOptions: { maxRetries: 1, retryDelayInMs: 1_000, maxRetryDelayInMs: 5_000 },
};

/** Longest the broker holds an accept of the next session (the session client's operation timeout). */
const SESSION_ACCEPT_WAIT_MS = 5_000;

function createServiceBusClient(
  config: WorkerConfig,
  deps: WorkerDeps,
  credential: TokenCredential | undefined,
  maxOperationMs?: number,
): ServiceBusClient {
  const given: ServiceBusClientOptions = deps.serviceBusClientOptions ?? WORKER_SERVICE_BUS_OPTIONS;
  const options: ServiceBusClientOptions =
    maxOperationMs === undefined
      ? given
      : {
          ...given,
          retryOptions: {
            ...given.retryOptions,
            timeoutInMs: Math.min(given.retryOptions?.timeoutInMs ?? maxOperationMs, maxOperationMs),
          },
        };
  if (config.serviceBus.kind === "connectionString") {
    return new ServiceBusClient(config.serviceBus.connectionString, options);
  }
  if (!credential) {
    throw new ConfigError([
      "SERVICEBUS_FULLY_QUALIFIED_NAMESPACE is set but no credential was provided to the worker",
    ]);
  }
  return new ServiceBusClient(config.serviceBus.fullyQualifiedNamespace, credential, options);
}
