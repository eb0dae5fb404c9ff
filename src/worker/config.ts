import { otelConfigProblems } from "../telemetry/exporters.ts";
import { ConfigError } from "./errors.ts";
import { didYouMean, lookalikesOf } from "./lookalikes.ts";

/** Where the worker receives from: a queue, or a topic subscription. */
export type EntityRef =
  | { readonly kind: "queue"; readonly queue: string; readonly path: string }
  | {
      readonly kind: "subscription";
      readonly topic: string;
      readonly subscription: string;
      readonly path: string;
    };

export interface ApiConfig {
  readonly name: string;
  /** Always ends with "/", so relative paths resolve under it. */
  readonly baseUrl: string;
  /** One scope, e.g. `api://<appId>/.default`. */
  readonly scope: string;
  /** Handlers of this API running at once; undefined = only the worker's concurrency limits it. */
  readonly concurrency: number | undefined;
  /** At most `cap` calls started per `intervalMs` (p-queue intervalCap); undefined = unlimited. */
  readonly rateLimit: { readonly cap: number; readonly intervalMs: number } | undefined;
}

export type ServiceBusTarget =
  | { readonly kind: "identity"; readonly fullyQualifiedNamespace: string }
  | { readonly kind: "connectionString"; readonly connectionString: string; readonly endpoint: string };

/** The worker's whole configuration, validated once and frozen. Units are in the names. */
export interface WorkerConfig {
  readonly serviceBus: ServiceBusTarget;
  readonly entities: readonly EntityRef[];
  /** Paths of the entities that require sessions (SERVICEBUS_SESSION_ENTITIES, a subset of `entities`). */
  readonly sessionEntities: readonly string[];
  readonly maxConcurrentSessions: number;
  readonly sessionIdleMs: number;
  readonly apis: Readonly<Record<string, ApiConfig>>;
  readonly concurrency: number;
  readonly readAhead: number;
  readonly maxAttempts: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  readonly handlerTimeoutMs: number;
  readonly apiTimeoutMs: number;
  readonly tokenTimeoutMs: number;
  readonly maxLockRenewalMs: number;
  readonly shutdownGraceMs: number;
  readonly settleTimeoutMs: number;
  readonly maxDeliveries: number | undefined;
  readonly failOnMissingRoles: boolean;
  readonly healthPort: number | undefined;
  readonly logLevel: string;
}

interface Setting<T> {
  readonly variable: string;
  readonly default: T;
  readonly doc: string;
}

/**
 * Every tuning variable, its default and what it means. `docs/configuration.md` and the deployment files are
 * checked against this table by tests, so it is the single source of truth.
 */
export const TUNING = {
  concurrency: { variable: "WORKER_CONCURRENCY", default: 8, doc: "handlers running at once" },
  readAhead: {
    variable: "WORKER_READ_AHEAD",
    default: 2,
    doc: "messages received and locked beyond the running ones, waiting for a free slot",
  },
  maxAttempts: {
    variable: "WORKER_MAX_ATTEMPTS",
    default: 3,
    doc: "handler attempts inside one delivery before the message is abandoned for redelivery",
  },
  backoffBaseMs: {
    variable: "WORKER_BACKOFF_BASE_MS",
    default: 500,
    doc: "first retry delay (exponential, full jitter)",
  },
  backoffMaxMs: {
    variable: "WORKER_BACKOFF_MAX_MS",
    default: 10_000,
    doc: "longest retry delay, Retry-After included",
  },
  handlerTimeoutMs: {
    variable: "WORKER_HANDLER_TIMEOUT_MS",
    default: 60_000,
    doc: "one attempt's time limit",
  },
  apiTimeoutMs: { variable: "WORKER_API_TIMEOUT_MS", default: 15_000, doc: "one API request's time limit" },
  tokenTimeoutMs: {
    variable: "WORKER_TOKEN_TIMEOUT_MS",
    default: 10_000,
    doc: "time limit for getting a token (the SDK itself waits forever on a hanging endpoint)",
  },
  maxLockRenewalMs: {
    variable: "WORKER_MAX_LOCK_RENEWAL_MS",
    default: 300_000,
    doc: "how long a running handler's message lock is kept renewed",
  },
  shutdownGraceMs: {
    variable: "WORKER_SHUTDOWN_GRACE_MS",
    default: 25_000,
    doc: "on SIGTERM, time for running handlers to finish before they are aborted (Container Apps gives 30 s)",
  },
  settleTimeoutMs: {
    variable: "WORKER_SETTLE_TIMEOUT_MS",
    default: 10_000,
    doc: "time one settlement may take on the receive link, then again on the management link (by lock token); after that the lock is left to expire",
  },
  maxConcurrentSessions: {
    variable: "WORKER_MAX_CONCURRENT_SESSIONS",
    default: 8,
    doc: "sessions held at once per session entity, each processing one message at a time in order",
  },
  sessionIdleMs: {
    variable: "WORKER_SESSION_IDLE_MS",
    default: 2_000,
    doc: "a held session with no message for this long is released, so another session gets its turn",
  },
  maxDeliveries: {
    variable: "WORKER_MAX_DELIVERIES",
    default: undefined,
    doc: "set to the entity's MaxDeliveryCount: on the last delivery the worker dead-letters with its own description (RetriesExhausted) instead of abandoning",
  },
  failOnMissingRoles: {
    variable: "WORKER_FAIL_ON_MISSING_ROLES",
    default: false,
    doc: "refuse to start when the identity lacks a role a handler needs",
  },
  healthPort: {
    variable: "WORKER_HEALTH_PORT",
    default: 8080,
    doc: "port of /healthz and /readyz; 0 = any free port; off = none",
  },
  logLevel: { variable: "LOG_LEVEL", default: "info", doc: "pino level: trace, debug, info, warn, error" },
} as const satisfies Record<string, Setting<unknown>>;

/** Variables the worker reads besides TUNING, with what they mean. Patterns use <NAME> for the API's name. */
export const VARIABLES = {
  SERVICEBUS_FULLY_QUALIFIED_NAMESPACE:
    "Service Bus namespace host (managed identity); host:port for the local broker",
  SERVICEBUS_CONNECTION_STRING: "emulators only (development mode); ignored when the namespace is set",
  SERVICEBUS_ENTITIES: "queues or topic/subscriptions/name to receive from, comma-separated",
  SERVICEBUS_SESSION_ENTITIES:
    "those of SERVICEBUS_ENTITIES that require sessions (RequiresSession), same syntax: processed in order per session",
  AZURE_CLIENT_ID: "client id of a user-assigned managed identity; system-assigned when unset",
  AZURE_TENANT_ID:
    "workload identity (AKS) sets it: with AZURE_CLIENT_ID and AZURE_FEDERATED_TOKEN_FILE the credential choice picks workload identity; alone it changes nothing (the env file keyless stack writes has it)",
  AZURE_FEDERATED_TOKEN_FILE:
    "workload identity (AKS) sets it: the service-account token file; the credential choice refuses it without AZURE_CLIENT_ID and AZURE_TENANT_ID",
  IDENTITY_ENDPOINT: "set by App Service / Container Apps (or keyless stack): the managed-identity endpoint",
  IDENTITY_HEADER: "set by App Service / Container Apps (or keyless stack): the endpoint's secret header",
  IDENTITY_SERVER_THUMBPRINT:
    "set by Service Fabric (with IDENTITY_ENDPOINT and IDENTITY_HEADER): @azure/identity then uses its endpoint, which serves only the resource's identity (AZURE_CLIENT_ID is refused)",
  MSI_ENDPOINT:
    "set by Cloud Shell, or Azure Machine Learning with MSI_SECRET: @azure/identity then uses that endpoint; checked to be a URL at start",
  MSI_SECRET: "set by Azure Machine Learning with MSI_ENDPOINT: @azure/identity's Machine Learning source",
  IMDS_ENDPOINT:
    "set by Azure Arc with IDENTITY_ENDPOINT: @azure/identity then asks the Arc agent at IDENTITY_ENDPOINT; checked to be a URL at start",
  AZURE_POD_IDENTITY_AUTHORITY_HOST:
    "AKS pod identity: where @azure/identity's IMDS source sends token requests instead of 169.254.169.254; checked to be a URL at start",
  "API_<NAME>_BASE_URL": "base URL of a protected API a handler calls",
  "API_<NAME>_SCOPE": "its scope, e.g. api://<appId>/.default",
  "API_<NAME>_CONCURRENCY": "optional: most handlers of that API running at once",
  "API_<NAME>_RATE_LIMIT": "optional: calls per interval, e.g. 10/1s",
  OTEL_EXPORTER_OTLP_ENDPOINT:
    "OTLP endpoint for traces and metrics (over HTTP <endpoint>/v1/traces and /v1/metrics, over gRPC as given); with neither it nor a signal's own endpoint nothing is exported",
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT:
    "OTLP URL for spans only, used as given; wins over OTEL_EXPORTER_OTLP_ENDPOINT for spans",
  OTEL_EXPORTER_OTLP_METRICS_ENDPOINT:
    "OTLP URL for metrics only, used as given; wins over OTEL_EXPORTER_OTLP_ENDPOINT for metrics",
  OTEL_EXPORTER_OTLP_PROTOCOL:
    "http/protobuf (default), http/json or grpc (what the Container Apps agent injects); anything else stops the worker at start",
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "the same for spans only; wins over OTEL_EXPORTER_OTLP_PROTOCOL",
  OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: "the same for metrics only; wins over OTEL_EXPORTER_OTLP_PROTOCOL",
  OTEL_BSP_SCHEDULE_DELAY:
    "ms between span exports (default 5000); a batch also leaves as soon as it is full",
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "most spans in one export (default 512)",
  OTEL_BSP_MAX_QUEUE_SIZE:
    "most spans waiting for export (default 2048); past it new spans are dropped, and the worker says so once",
  OTEL_BSP_EXPORT_TIMEOUT: "ms one span export may take (default 30000)",
  OTEL_METRIC_EXPORT_INTERVAL: "ms between metric exports (default 60000)",
  OTEL_METRIC_EXPORT_TIMEOUT: "ms one metric export may take (default 30000, at most the interval)",
  OTEL_LOG_LEVEL:
    "OpenTelemetry's own console logger at this level, instead of the worker saying each export problem once at warn",
  OTEL_SERVICE_NAME: "service name on spans (default keyless-worker)",
  OTEL_TRACES_EXPORTER: "console to print spans; none to turn tracing off (metrics stay as they are)",
  OTEL_METRICS_EXPORTER: "none to turn metrics off (spans stay as they are)",
  OTEL_SDK_DISABLED:
    "true = no telemetry at all: nothing recorded or exported (the trace context is still passed on)",
  OTEL_TRACES_SAMPLER:
    "which messages' traces are recorded (OpenTelemetry's names; default parentbased_always_on); parentbased_traceidratio with OTEL_TRACES_SAMPLER_ARG for busy queues",
  OTEL_TRACES_SAMPLER_ARG: "the ratio for a traceidratio sampler, 0 to 1 (e.g. 0.1: a tenth of the traces)",
  NODE_EXTRA_CA_CERTS: "extra CA certificates (the local broker's development CA)",
  KEYLESS_CA_CERTS:
    "a CA file every keyless command trusts in-process (what keyless stack writes; unlike NODE_EXTRA_CA_CERTS it works from node --env-file)",
  KEYLESS_CREDENTIAL:
    "developer = use an Azure CLI login instead of the managed identity (never in production)",
} as const;

/** True when `name` is a variable the worker documents (TUNING, VARIABLES or an API_<NAME>_* pattern, OTEL_*). */
export function isDocumentedVariable(name: string): boolean {
  if (name in VARIABLES) return true;
  if (Object.values(TUNING).some((s) => s.variable === name)) return true;
  if (/^API_[A-Z0-9_]+_(BASE_URL|SCOPE|CONCURRENCY|RATE_LIMIT)$/.test(name)) return true;
  return /^OTEL_[A-Z_]+$/.test(name);
}

type Env = Readonly<Record<string, string | undefined>>;

const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"];

/**
 * Reads the worker's configuration from the environment. Every problem is collected and reported together, each
 * naming its variable and what was wrong, then the result is frozen.
 */
export function loadConfig(env: Env): WorkerConfig {
  const problems: string[] = [];
  const read = (name: string) => {
    const value = env[name]?.trim();
    return value === "" ? undefined : value;
  };

  const integer = (s: { variable: string; default: number | undefined }, min: number, max: number) => {
    const raw = read(s.variable);
    if (raw === undefined) return s.default;
    const value = Number(raw);
    if (!/^-?\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
      problems.push(`${s.variable}: expected a whole number from ${min} to ${max}, got "${raw}"`);
      return s.default;
    }
    return value;
  };

  const boolean = (s: { variable: string; default: boolean }) => {
    const raw = read(s.variable);
    if (raw === undefined) return s.default;
    if (["true", "1"].includes(raw.toLowerCase())) return true;
    if (["false", "0"].includes(raw.toLowerCase())) return false;
    problems.push(`${s.variable}: expected true or false (or 1 or 0), got "${raw}"`);
    return s.default;
  };

  const serviceBus = readServiceBus(read, problems);
  const entities = readEntities(read("SERVICEBUS_ENTITIES"), problems);
  const sessionEntities = readSessionEntities(read("SERVICEBUS_SESSION_ENTITIES"), entities, problems);
  const apis = readApis(env, problems);

  const healthRaw = read(TUNING.healthPort.variable);
  let healthPort: number | undefined = TUNING.healthPort.default;
  if (healthRaw?.toLowerCase() === "off") healthPort = undefined;
  else if (healthRaw !== undefined) {
    healthPort = Number(healthRaw);
    if (!/^\d+$/.test(healthRaw) || healthPort > 65_535) {
      problems.push(
        `${TUNING.healthPort.variable}: expected a port from 0 to 65535 (0 = any free port) or off (no health server), got "${healthRaw}"`,
      );
    }
  }

  const logLevel = read(TUNING.logLevel.variable) ?? TUNING.logLevel.default;
  if (!LOG_LEVELS.includes(logLevel)) {
    problems.push(`${TUNING.logLevel.variable}: expected one of ${LOG_LEVELS.join(", ")}, got "${logLevel}"`);
  }

  const config: WorkerConfig = {
    serviceBus: serviceBus ?? { kind: "identity", fullyQualifiedNamespace: "" },
    entities,
    sessionEntities,
    maxConcurrentSessions:
      integer(TUNING.maxConcurrentSessions, 1, 1000) ?? TUNING.maxConcurrentSessions.default,
    sessionIdleMs: integer(TUNING.sessionIdleMs, 1, 600_000) ?? TUNING.sessionIdleMs.default,
    apis,
    concurrency: integer(TUNING.concurrency, 1, 1000) ?? TUNING.concurrency.default,
    readAhead: integer(TUNING.readAhead, 0, 1000) ?? TUNING.readAhead.default,
    maxAttempts: integer(TUNING.maxAttempts, 1, 100) ?? TUNING.maxAttempts.default,
    backoffBaseMs: integer(TUNING.backoffBaseMs, 0, 3_600_000) ?? TUNING.backoffBaseMs.default,
    backoffMaxMs: integer(TUNING.backoffMaxMs, 0, 3_600_000) ?? TUNING.backoffMaxMs.default,
    handlerTimeoutMs: integer(TUNING.handlerTimeoutMs, 1, 86_400_000) ?? TUNING.handlerTimeoutMs.default,
    apiTimeoutMs: integer(TUNING.apiTimeoutMs, 1, 3_600_000) ?? TUNING.apiTimeoutMs.default,
    tokenTimeoutMs: integer(TUNING.tokenTimeoutMs, 1, 600_000) ?? TUNING.tokenTimeoutMs.default,
    maxLockRenewalMs: integer(TUNING.maxLockRenewalMs, 0, 86_400_000) ?? TUNING.maxLockRenewalMs.default,
    shutdownGraceMs: integer(TUNING.shutdownGraceMs, 0, 3_600_000) ?? TUNING.shutdownGraceMs.default,
    settleTimeoutMs: integer(TUNING.settleTimeoutMs, 100, 600_000) ?? TUNING.settleTimeoutMs.default,
    maxDeliveries: integer(TUNING.maxDeliveries, 1, 2000),
    failOnMissingRoles: boolean(TUNING.failOnMissingRoles),
    healthPort,
    logLevel,
  };
  if (config.backoffMaxMs < config.backoffBaseMs) {
    problems.push(
      `${TUNING.backoffMaxMs.variable}: must be at least ${TUNING.backoffBaseMs.variable} (${config.backoffBaseMs}), got ${config.backoffMaxMs}`,
    );
  }
  if (entities.length > 0 && config.concurrency + config.readAhead < entities.length) {
    problems.push(
      `${TUNING.concurrency.variable} + ${TUNING.readAhead.variable} (${config.concurrency + config.readAhead}) is the most messages the worker holds, and must be at least the number of SERVICEBUS_ENTITIES (${entities.length}) so each entity can hold one`,
    );
  }
  // Telemetry started before this check (so the SDKs load instrumented) and exported nothing for such a signal.
  problems.push(...otelConfigProblems(env));
  hintAtLookalikes(env, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(config);
}

/**
 * A variable the worker reads that is unset while a misspelling of it is set: a required one's problem says so, an
 * optional one becomes a problem of its own (its setting would silently be ignored).
 */
function hintAtLookalikes(env: Env, problems: string[]): void {
  const required = problems.flatMap((p) => /^([A-Z0-9_]+): required/.exec(p)?.[1] ?? []);
  const optional = [
    ...Object.keys(VARIABLES).filter((name) => !name.includes("<")),
    ...Object.values(TUNING).map((s) => s.variable),
  ];
  for (const name of new Set([...required, ...optional])) {
    if (env[name]?.trim()) continue;
    const lookalikes = lookalikesOf(name, env, isDocumentedVariable);
    if (lookalikes.length === 0) continue;
    const index = problems.findIndex((p) => p.startsWith(`${name}: required`));
    if (index >= 0) problems[index] = `${problems[index]}; ${didYouMean(name, lookalikes)}`;
    else problems.push(`${name}: not set; ${didYouMean(name, lookalikes)}`);
  }
}

function readServiceBus(
  read: (n: string) => string | undefined,
  problems: string[],
): ServiceBusTarget | undefined {
  const fqns = read("SERVICEBUS_FULLY_QUALIFIED_NAMESPACE");
  const connectionString = read("SERVICEBUS_CONNECTION_STRING");
  // When both are set (as `keyless stack --write-env` writes them), the namespace and the managed identity win:
  // that is the path production takes. The connection string is then ignored, never logged.
  if (fqns) {
    if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(fqns)) {
      problems.push(
        `SERVICEBUS_FULLY_QUALIFIED_NAMESPACE: expected a host name such as mynamespace.servicebus.windows.net (optionally :port), got "${fqns}"`,
      );
    }
    return { kind: "identity", fullyQualifiedNamespace: fqns };
  }
  if (connectionString) {
    const endpoint = endpointOf(connectionString);
    if (!endpoint) {
      // Never echo the connection string: it carries a key.
      problems.push("SERVICEBUS_CONNECTION_STRING: has no Endpoint=sb://… part");
      return undefined;
    }
    return { kind: "connectionString", connectionString, endpoint };
  }
  problems.push(
    "SERVICEBUS_FULLY_QUALIFIED_NAMESPACE: required (e.g. mynamespace.servicebus.windows.net); or SERVICEBUS_CONNECTION_STRING for an emulator",
  );
  return undefined;
}

/** The `Endpoint=sb://…` part of a connection string (never the key), or undefined. */
export function endpointOf(connectionString: string): string | undefined {
  return /(?:^|;)\s*Endpoint\s*=\s*([^;]+)/i.exec(connectionString)?.[1]?.trim();
}

/** `queue` or `topic/subscriptions/name` (case-insensitive "subscriptions"), or undefined when it is neither. */
export function parseEntity(text: string): EntityRef | undefined {
  const segments = text.split("/");
  const valid = (s: string | undefined) => s !== undefined && /^[A-Za-z0-9][\w.-]*$/.test(s);
  if (segments.length === 1 && valid(segments[0])) return { kind: "queue", queue: text, path: text };
  if (
    segments.length === 3 &&
    segments[1]?.toLowerCase() === "subscriptions" &&
    valid(segments[0]) &&
    valid(segments[2])
  ) {
    return {
      kind: "subscription",
      topic: segments[0]!,
      subscription: segments[2]!,
      path: `${segments[0]}/subscriptions/${segments[2]}`,
    };
  }
  return undefined;
}

function readEntities(raw: string | undefined, problems: string[]): EntityRef[] {
  if (!raw) {
    problems.push("SERVICEBUS_ENTITIES: required: comma-separated queues or topic/subscriptions/name");
    return [];
  }
  const entities: EntityRef[] = [];
  for (const part of raw.split(",").map((s) => s.trim())) {
    const entity = parseEntity(part);
    if (entity) entities.push(entity);
    else problems.push(`SERVICEBUS_ENTITIES: "${part}" is neither a queue name nor topic/subscriptions/name`);
  }
  const paths = entities.map((e) => e.path.toLowerCase());
  if (new Set(paths).size !== paths.length)
    problems.push(`SERVICEBUS_ENTITIES: lists an entity twice: "${raw}"`);
  return entities;
}

/**
 * Which of `entities` require sessions. Nothing can ask Service Bus (the worker has no admin rights), so it is said
 * here: each entry must also be in SERVICEBUS_ENTITIES, which stays the one list of what the worker receives from.
 */
function readSessionEntities(
  raw: string | undefined,
  entities: readonly EntityRef[],
  problems: string[],
): string[] {
  if (!raw) return [];
  const paths: string[] = [];
  for (const part of raw.split(",").map((s) => s.trim())) {
    const entity = parseEntity(part);
    const listed = entity && entities.find((e) => e.path.toLowerCase() === entity.path.toLowerCase());
    if (!entity) {
      problems.push(
        `SERVICEBUS_SESSION_ENTITIES: "${part}" is neither a queue name nor topic/subscriptions/name`,
      );
    } else if (!listed) {
      problems.push(
        `SERVICEBUS_SESSION_ENTITIES: "${part}" is not in SERVICEBUS_ENTITIES: add it there too (this variable only says which of them require sessions)`,
      );
    } else if (!paths.includes(listed.path)) paths.push(listed.path);
  }
  return paths;
}

/** True when the worker processes `entity` as sessions (it is in SERVICEBUS_SESSION_ENTITIES). */
export function requiresSession(config: Pick<WorkerConfig, "sessionEntities">, entity: EntityRef): boolean {
  return config.sessionEntities.includes(entity.path);
}

function readApis(env: Env, problems: string[]): Record<string, ApiConfig> {
  const names = new Set<string>();
  for (const key of Object.keys(env)) {
    const match = /^API_([A-Z0-9_]+?)_(BASE_URL|SCOPE|CONCURRENCY|RATE_LIMIT)$/.exec(key);
    if (match?.[1]) names.add(match[1]);
  }
  const apis: Record<string, ApiConfig> = {};
  for (const upper of names) {
    const name = upper.toLowerCase();
    const v = (suffix: string) => env[`API_${upper}_${suffix}`]?.trim() || undefined;
    const baseUrlRaw = v("BASE_URL");
    const scope = v("SCOPE");
    let baseUrl = "";
    if (!baseUrlRaw)
      problems.push(`API_${upper}_BASE_URL: required because other API_${upper}_* variables are set`);
    else {
      try {
        const url = new URL(baseUrlRaw);
        if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error("not http(s)");
        if (url.username || url.password) {
          problems.push(
            `API_${upper}_BASE_URL: must not carry credentials; tokens come from the managed identity`,
          );
        }
        baseUrl = url.href.endsWith("/") ? url.href : `${url.href}/`;
      } catch {
        problems.push(`API_${upper}_BASE_URL: expected an http(s) URL, got "${baseUrlRaw}"`);
      }
    }
    if (!scope) {
      problems.push(`API_${upper}_SCOPE: required, e.g. api://<appId>/.default`);
    } else if (/\s/.test(scope)) {
      problems.push(
        `API_${upper}_SCOPE: exactly one scope is allowed (managed identities take one), got "${scope}"`,
      );
    } else if (!scope.endsWith("/.default")) {
      problems.push(
        `API_${upper}_SCOPE: app-only tokens need a /.default scope, e.g. api://<appId>/.default; got "${scope}"`,
      );
    }
    let concurrency: number | undefined;
    const concurrencyRaw = v("CONCURRENCY");
    if (concurrencyRaw !== undefined) {
      concurrency = Number(concurrencyRaw);
      if (!/^\d+$/.test(concurrencyRaw) || concurrency < 1) {
        problems.push(`API_${upper}_CONCURRENCY: expected a whole number >= 1, got "${concurrencyRaw}"`);
      }
    }
    let rateLimit: ApiConfig["rateLimit"];
    const rateRaw = v("RATE_LIMIT");
    if (rateRaw !== undefined) {
      const m = /^(\d+)\/(\d+)(ms|s|m)$/.exec(rateRaw);
      if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) {
        problems.push(
          `API_${upper}_RATE_LIMIT: expected calls/interval such as 10/1s, 600/1m or 5/250ms, got "${rateRaw}"`,
        );
      } else {
        const unit = { ms: 1, s: 1000, m: 60_000 }[m[3] as "ms" | "s" | "m"];
        rateLimit = { cap: Number(m[1]), intervalMs: Number(m[2]) * unit };
      }
    }
    apis[name] = { name, baseUrl, scope: scope ?? "", concurrency, rateLimit };
  }
  return apis;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object") {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** What a handler whose API is not configured needs: the one wording the worker, the preflight and doctor use. */
export function missingApiFix(api: string): string {
  const upper = api.toUpperCase();
  return `set API_${upper}_BASE_URL and API_${upper}_SCOPE`;
}
