import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { type KeylessRun, runKeyless } from "../cli/support.ts";

/**
 * `keyless run` with a configuration it cannot use, as an operator meets it: exit 78 (EX_CONFIG), one log line
 * naming the variable and the fix, no stack trace. Nothing is contacted: the managed-identity endpoint is pinned to
 * a closed loopback port, and every case fails before the worker would use it.
 */
const env = {
  SERVICEBUS_FULLY_QUALIFIED_NAMESPACE: "contoso.servicebus.windows.net",
  SERVICEBUS_ENTITIES: "orders",
  API_ORDERS_BASE_URL: "https://orders.contoso.com/api",
  API_ORDERS_SCOPE: "api://568c0ca2-0405-43bd-8d4c-bfdfd3f66f42/.default",
  IDENTITY_ENDPOINT: "http://127.0.0.1:9/msi/token",
  IDENTITY_HEADER: "not-a-secret",
  WORKER_HEALTH_PORT: "off",
};

function assertConfigExit(run: KeylessRun, expected: RegExp): void {
  const output = run.stdout + run.stderr;
  assert.equal(run.code, 78, output);
  const fatal = output
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { level: string; msg: string })
    .filter((line) => line.level === "fatal");
  assert.equal(fatal.length, 1, output);
  assert.match(fatal[0]!.msg, expected);
  assert.doesNotMatch(output, /\n\s+at |"stack"/, "no stack trace");
}

describe("keyless run with a configuration it cannot use", () => {
  it("exits 78 naming LOG_LEVEL and its levels when LOG_LEVEL is not one", async () => {
    assertConfigExit(
      await runKeyless(["run"], { ...env, LOG_LEVEL: "verbose" }),
      /LOG_LEVEL: expected one of trace, debug, info, warn, error, fatal, silent, got "verbose"/,
    );
  });

  it("exits 78 when a boolean says yes", async () => {
    assertConfigExit(
      await runKeyless(["run"], { ...env, WORKER_FAIL_ON_MISSING_ROLES: "yes" }),
      /WORKER_FAIL_ON_MISSING_ROLES: expected true or false \(or 1 or 0\), got "yes"/,
    );
  });

  it("exits 78 asking whether the misspelled SERVICEBUS_ENTITES meant SERVICEBUS_ENTITIES", async () => {
    const { SERVICEBUS_ENTITIES: _, ...rest } = env;
    assertConfigExit(
      await runKeyless(["run"], { ...rest, SERVICEBUS_ENTITES: "orders" }),
      /SERVICEBUS_ENTITIES: required.*did you mean SERVICEBUS_ENTITIES\? \(SERVICEBUS_ENTITES is set\)/,
    );
  });

  it("exits 78 with the variables to set when a handler's API is not configured", async () => {
    const { API_ORDERS_BASE_URL: _, API_ORDERS_SCOPE: __, ...rest } = env;
    assertConfigExit(
      await runKeyless(["run"], rest),
      /handler orders\.fulfil calls API "orders": set API_ORDERS_BASE_URL and API_ORDERS_SCOPE/,
    );
  });

  it("exits 78 naming WORKER_HEALTH_PORT and off", async () => {
    assertConfigExit(
      await runKeyless(["run"], { ...env, WORKER_HEALTH_PORT: "disabled" }),
      /WORKER_HEALTH_PORT: .* or off \(no health server\), got "disabled"/,
    );
  });

  it("exits 78 naming OTEL_EXPORTER_OTLP_PROTOCOL and the protocols that work when it is not one", async () => {
    assertConfigExit(
      await runKeyless(["run"], {
        ...env,
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9",
        OTEL_EXPORTER_OTLP_PROTOCOL: "http",
      }),
      /OTEL_EXPORTER_OTLP_PROTOCOL: expected one of http\/protobuf, http\/json, grpc .*got "http"/,
    );
  });
});
