/**
 * The worker's APIs as one array (deploy/apis.json → the `apis` parameter): the app settings it becomes in Azure,
 * the roles graph-grants.bicep grants, and the same APIs in docker-compose.yml and the local sample tenant.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { parse } from "yaml";

import { isDocumentedVariable, loadConfig } from "../../src/worker/config.ts";
import { type ApiEntry, read, readJson, workerEnvironment } from "./support.ts";

const apis = readJson<ApiEntry[]>("deploy/apis.json");

/** Name → the part of its settings the worker reads, as loadConfig reports it. */
const expected = (list: ApiEntry[]) =>
  Object.fromEntries(
    list.map((a) => [a.name, { name: a.name, baseUrl: a.baseUrl, scope: a.scope }] as const),
  );
const loaded = (env: Record<string, string>) =>
  Object.fromEntries(
    Object.entries(loadConfig(env).apis).map(([name, a]) => [
      name,
      { name: a.name, baseUrl: a.baseUrl, scope: a.scope },
    ]),
  );

describe("the apis array", () => {
  it("names each API so that the worker finds its API_<NAME>_* settings", () => {
    assert.ok(apis.length > 0);
    for (const a of apis) {
      assert.match(
        a.name,
        /^[a-z0-9_]+$/,
        `${a.name}: lower-case letters, digits and _ (API_<NAME>_ upper-cases it)`,
      );
    }
  });

  it("becomes API_<NAME>_BASE_URL and API_<NAME>_SCOPE in Azure, which the worker's loadConfig reads back", () => {
    const env = workerEnvironment("deploy/main.snapshot.json");
    assert.deepEqual(loaded(env), expected(apis));
    for (const name of Object.keys(env))
      assert.ok(isDocumentedVariable(name) || name === "WEBSITES_PORT", name);
  });

  it("takes any number of APIs, with their optional limits, on App Service as on Container Apps", () => {
    const env = workerEnvironment("test/deployment/two-apis.snapshot.json");
    const config = loadConfig(env);
    assert.deepEqual(Object.keys(config.apis).sort(), ["inventory", "orders"]);
    assert.equal(config.apis.inventory?.baseUrl, "https://inventory.contoso.com/v2/");
    assert.equal(config.apis.inventory?.concurrency, 4);
    assert.deepEqual(config.apis.inventory?.rateLimit, { cap: 10, intervalMs: 1000 });
    assert.equal(config.apis.orders?.concurrency, undefined, "limits only where an API sets them");
    assert.equal(env.API_ORDERS_RATE_LIMIT, undefined);
    assert.equal(env.WEBSITES_PORT, "8080", "the App Service variant");
  });

  it("grants in Azure the roles the local sample tenant grants the worker", () => {
    const tenant = readJson<{
      applications: Array<{ displayName: string; appId: string; appRoles: Array<{ value: string }> }>;
      appRoleAssignments: Array<{ principal: string; application: string; role: string }>;
    }>("src/local/tenant/sample-tenant.json");
    for (const a of apis) {
      const app = tenant.applications.find((x) => x.appId === a.appId);
      assert.ok(app, `${a.name}: the sample tenant has the app ${a.appId}`);
      const granted = tenant.appRoleAssignments
        .filter((g) => g.principal === "orders-worker" && g.application === app.displayName)
        .map((g) => g.role);
      assert.deepEqual([...a.roles].sort(), granted.sort(), a.name);
      for (const role of a.roles)
        assert.ok(
          app.appRoles.some((r) => r.value === role),
          `${role} is an app role of ${app.displayName}`,
        );
    }
  });

  it("is loaded from the one apis.json by both the worker's and the directory administrator's parameters", () => {
    const main = read("deploy/main.bicepparam");
    const grants = read("deploy/graph-grants.bicepparam");
    for (const file of [main, grants]) assert.match(file, /^param apis = loadJsonContent\('apis\.json'\)$/m);
    const name = (file: string) => /^param name = '([^']*)'$/m.exec(file)?.[1];
    assert.ok(name(main));
    assert.equal(name(grants), name(main), "graph-grants.bicep finds <name>-worker-id by the same name");
  });

  it("is granted by value to the worker identity the main deployment creates", () => {
    const graph = read("deploy/graph-grants.bicep");
    const identity = read("deploy/modules/identity.bicep");
    assert.match(identity, /resource worker '[^']+' = \{\n {2}name: '\$\{name\}-worker-id'/);
    assert.match(graph, /resource worker '[^']+' existing = \{\n {2}name: '\$\{name\}-worker-id'/);
    assert.match(graph, /appId: a\.appId/, "each API's service principal found by its appId");
    assert.match(graph, /filter\(apiPrincipal\[g\.api\]\.appRoles, r => r\.value == g\.role\)/);
    assert.match(graph, /principalId: worker\.properties\.principalId/);
  });
});

describe("docker-compose.yml's APIs", () => {
  const compose = parse(read("docker-compose.yml"), { merge: true }) as {
    services: Record<string, { command?: unknown; environment?: Record<string, string> }>;
  };
  const workers = Object.entries(compose.services).filter(
    ([, s]) => Array.isArray(s.command) && s.command[0] === "run",
  );
  const apiSettings = (env: Record<string, string> = {}) =>
    Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith("API_")));

  it("are the same for every worker service, and the same names and scopes Azure gets", () => {
    assert.ok(workers.length >= 2);
    const first = apiSettings(workers[0]![1].environment);
    for (const [name, s] of workers) assert.deepEqual(apiSettings(s.environment), first, name);
    for (const a of apis) {
      const upper = a.name.toUpperCase();
      assert.equal(first[`API_${upper}_SCOPE`], a.scope, a.name);
      assert.ok(first[`API_${upper}_BASE_URL`]?.startsWith("http://platform:"), `${a.name}: the local API`);
    }
    assert.equal(Object.keys(first).filter((k) => k.endsWith("_SCOPE")).length, apis.length);
  });
});
