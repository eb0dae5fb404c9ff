import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { loadConfig, requiresSession } from "../../src/worker/config.ts";
import { ConfigError } from "../../src/worker/errors.ts";

const minimal = {
  SERVICEBUS_FULLY_QUALIFIED_NAMESPACE: "contoso.servicebus.windows.net",
  SERVICEBUS_ENTITIES: "orders",
  API_ORDERS_BASE_URL: "https://orders.contoso.com/api",
  API_ORDERS_SCOPE: "api://568c0ca2-0405-43bd-8d4c-bfdfd3f66f42/.default",
};

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems;
  }
  assert.fail("expected a ConfigError");
}

describe("loadConfig", () => {
  it("applies documented defaults to a minimal production environment", () => {
    const config = loadConfig(minimal);
    assert.deepEqual(config.serviceBus, {
      kind: "identity",
      fullyQualifiedNamespace: "contoso.servicebus.windows.net",
    });
    assert.equal(config.concurrency, 8);
    assert.equal(config.shutdownGraceMs, 25_000);
    assert.ok(config.shutdownGraceMs < 30_000, "drain must fit Container Apps' 30 s termination grace");
    assert.equal(config.apis.orders?.baseUrl, "https://orders.contoso.com/api/");
  });

  it("freezes the result so nothing can change it later", () => {
    const config = loadConfig(minimal);
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.apis.orders));
    assert.throws(() => {
      (config as { concurrency: number }).concurrency = 99;
    });
  });

  it("reads queues and topic subscriptions from SERVICEBUS_ENTITIES", () => {
    const config = loadConfig({ ...minimal, SERVICEBUS_ENTITIES: "orders, events/subscriptions/audit" });
    assert.deepEqual(
      config.entities.map((e) => e.path),
      ["orders", "events/subscriptions/audit"],
    );
    assert.equal(config.entities[1]?.kind, "subscription");
  });

  it("marks the entities of SERVICEBUS_SESSION_ENTITIES as requiring sessions, with the session settings' defaults", () => {
    const config = loadConfig({
      ...minimal,
      SERVICEBUS_ENTITIES: "orders, orders-by-order, events/subscriptions/audit",
      SERVICEBUS_SESSION_ENTITIES: "orders-by-order, events/Subscriptions/audit",
    });
    assert.deepEqual(config.sessionEntities, ["orders-by-order", "events/subscriptions/audit"]);
    assert.equal(requiresSession(config, config.entities[0]!), false);
    assert.equal(requiresSession(config, config.entities[1]!), true);
    assert.equal(config.maxConcurrentSessions, 8);
    assert.equal(config.sessionIdleMs, 2_000);
    assert.deepEqual(loadConfig(minimal).sessionEntities, []);
  });

  it("refuses a session entity that SERVICEBUS_ENTITIES does not list, saying to add it there", () => {
    assert.deepEqual(problemsOf({ ...minimal, SERVICEBUS_SESSION_ENTITIES: "orders-by-order" }), [
      `SERVICEBUS_SESSION_ENTITIES: "orders-by-order" is not in SERVICEBUS_ENTITIES: add it there too (this variable only says which of them require sessions)`,
    ]);
    assert.match(
      problemsOf({ ...minimal, WORKER_MAX_CONCURRENT_SESSIONS: "0", WORKER_SESSION_IDLE_MS: "soon" }).join(
        "\n",
      ),
      /WORKER_MAX_CONCURRENT_SESSIONS: expected a whole number from 1 to 1000, got "0"\n.*WORKER_SESSION_IDLE_MS: expected a whole number/,
    );
  });

  it("reports every problem at once, each naming its variable", () => {
    const problems = problemsOf({
      SERVICEBUS_ENTITIES: "a/b",
      WORKER_CONCURRENCY: "lots",
      WORKER_MAX_ATTEMPTS: "0",
      API_BILLING_SCOPE: "api://x/.default",
      API_ORDERS_BASE_URL: "ftp://x",
      API_ORDERS_SCOPE: "api://a/.default api://b/.default",
      API_ORDERS_RATE_LIMIT: "fast",
      LOG_LEVEL: "chatty",
    });
    for (const variable of [
      "SERVICEBUS_FULLY_QUALIFIED_NAMESPACE",
      "SERVICEBUS_ENTITIES",
      "WORKER_CONCURRENCY",
      "WORKER_MAX_ATTEMPTS",
      "API_BILLING_BASE_URL",
      "API_ORDERS_BASE_URL",
      "API_ORDERS_SCOPE",
      "API_ORDERS_RATE_LIMIT",
      "LOG_LEVEL",
    ]) {
      assert.ok(
        problems.some((p) => p.startsWith(`${variable}:`)),
        `expected a problem naming ${variable} in:\n${problems.join("\n")}`,
      );
    }
  });

  it("never repeats a connection string's key in its error", () => {
    const problems = problemsOf({
      SERVICEBUS_CONNECTION_STRING: "SharedAccessKey=supersecret",
      SERVICEBUS_ENTITIES: "q",
    });
    assert.ok(problems.some((p) => p.startsWith("SERVICEBUS_CONNECTION_STRING:")));
    assert.ok(!problems.join("\n").includes("supersecret"));
  });

  it("prefers the namespace (managed identity) when a connection string is set too", () => {
    const config = loadConfig({
      ...minimal,
      SERVICEBUS_CONNECTION_STRING: "Endpoint=sb://localhost:5672;SharedAccessKeyName=k;SharedAccessKey=v",
    });
    assert.equal(config.serviceBus.kind, "identity");
  });

  it("parses per-API concurrency and rate limits", () => {
    const config = loadConfig({ ...minimal, API_ORDERS_CONCURRENCY: "2", API_ORDERS_RATE_LIMIT: "10/1s" });
    assert.equal(config.apis.orders?.concurrency, 2);
    assert.deepEqual(config.apis.orders?.rateLimit, { cap: 10, intervalMs: 1000 });
  });

  it("turns the health server off with WORKER_HEALTH_PORT=off", () => {
    assert.equal(loadConfig({ ...minimal, WORKER_HEALTH_PORT: "off" }).healthPort, undefined);
  });

  it("accepts only true or false (or 1 or 0) for a boolean, naming the variable otherwise", () => {
    assert.equal(loadConfig({ ...minimal, WORKER_FAIL_ON_MISSING_ROLES: "TRUE" }).failOnMissingRoles, true);
    assert.equal(loadConfig({ ...minimal, WORKER_FAIL_ON_MISSING_ROLES: "0" }).failOnMissingRoles, false);
    for (const raw of ["yes", "no", "on"]) {
      assert.deepEqual(problemsOf({ ...minimal, WORKER_FAIL_ON_MISSING_ROLES: raw }), [
        `WORKER_FAIL_ON_MISSING_ROLES: expected true or false (or 1 or 0), got "${raw}"`,
      ]);
    }
  });

  it("names LOG_LEVEL and the levels it allows", () => {
    const [problem] = problemsOf({ ...minimal, LOG_LEVEL: "verbose" });
    assert.match(
      problem!,
      /^LOG_LEVEL: expected one of trace, debug, info, warn, error, fatal, silent, got "verbose"$/,
    );
  });

  it("says that WORKER_HEALTH_PORT also takes off", () => {
    const [problem] = problemsOf({ ...minimal, WORKER_HEALTH_PORT: "none" });
    assert.match(
      problem!,
      /^WORKER_HEALTH_PORT: expected a port from 0 to 65535 \(0 = any free port\) or off/,
    );
    assert.equal(loadConfig({ ...minimal, WORKER_HEALTH_PORT: "0" }).healthPort, 0);
  });

  it("asks whether a misspelled name was meant when a required variable is missing", () => {
    const { SERVICEBUS_ENTITIES: _, ...rest } = minimal;
    assert.deepEqual(problemsOf({ ...rest, SERVICEBUS_ENTITES: "orders" }), [
      "SERVICEBUS_ENTITIES: required: comma-separated queues or topic/subscriptions/name; did you mean SERVICEBUS_ENTITIES? (SERVICEBUS_ENTITES is set)",
    ]);
    const { API_ORDERS_SCOPE: __, ...noScope } = minimal;
    const [scope] = problemsOf({ ...noScope, API_ORDERS_SCOPES: minimal.API_ORDERS_SCOPE });
    assert.match(
      scope!,
      /^API_ORDERS_SCOPE: required.*; did you mean API_ORDERS_SCOPE\? \(API_ORDERS_SCOPES is set\)$/,
    );
  });

  it("refuses a misspelled optional variable instead of silently keeping the default", () => {
    assert.deepEqual(problemsOf({ ...minimal, worker_concurency: "4" }), [
      "WORKER_CONCURRENCY: not set; did you mean WORKER_CONCURRENCY? (worker_concurency is set)",
    ]);
  });

  it("names each OTLP protocol variable set to a protocol no exporter speaks", () => {
    assert.deepEqual(
      problemsOf({
        ...minimal,
        OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
        OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: "json",
      }).map((p) => p.split(":")[0]),
      ["OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"],
    );
  });

  it("takes no offence at the variables keyless stack and the Azure platforms set", () => {
    const config = loadConfig({
      ...minimal,
      AZURE_TENANT_ID: "7c6b3a6e-0c5f-4bb8-9a8e-2f4f3f0e9d11",
      AZURE_CLIENT_ID: "eb7db80e-1d4d-44ad-8bd1-b8954bad2e36",
      KEYLESS_AUTHORITY: "http://127.0.0.1:42356",
      KEYLESS_GRAPH_URL: "http://127.0.0.1:42356/graph",
      KEYLESS_ADMIN_CLIENT_ID: "9600f50e-2365-4746-995f-dfd2972ecd9e",
      IDENTITY_ENDPOINT: "http://127.0.0.1:42356/msi/token",
      IDENTITY_HEADER: "x",
      MSI_ENDPOINT: "http://127.0.0.1:42356/msi/token",
      MSI_SECRET: "x",
      CONTAINER_APP_NAME: "orders-worker",
      // What the Container Apps managed OpenTelemetry agent injects.
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://otel.service.k8se-apps:4317/",
      OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
      WEBSITE_SITE_NAME: "orders-worker",
      HOSTNAME: "orders-worker-1",
      NODE_ENV: "production",
    });
    assert.equal(config.entities[0]?.path, "orders");
  });
});
