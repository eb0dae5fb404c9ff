import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { loadConfig } from "../../src/worker/config.ts";
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
});
