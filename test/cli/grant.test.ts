import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { ManagedIdentityCredential } from "@azure/identity";
import { decodeJwt } from "jose";

import {
  grantAppRole,
  listAppRoles,
  resolveGrant,
  resolveIdentity,
  revokeAppRole,
} from "../../src/operator/app-role-grants.ts";
import { createGraphClient, type GraphClient } from "../../src/operator/graph-client.ts";
import { sampleTenant, startTestStack, type TestStack } from "../support/stack.ts";
import { runKeyless } from "./support.ts";

const ADMIN_CLIENT_ID = "9600f50e-2365-4746-995f-dfd2972ecd9e";
const PRODUCER_CLIENT_ID = "b4ba427f-714d-42d9-9a7e-b6a584bd5b7c";
const ORDERS_API = {
  appId: "568c0ca2-0405-43bd-8d4c-bfdfd3f66f42",
  spId: "b9221a20-18db-4271-83e3-2d5ae8f8aade",
};
const ROLE_IDS = {
  "Orders.Read": "cde208b7-0b6d-44d6-90c0-d9a9515cc14f",
  "Orders.Fulfil": "3638b124-7ec8-4ad1-99c4-7d36a48c978d",
  "Orders.Refund": "c5364fcf-e42c-4393-9129-c18bf717cb06",
};
const REPORTS = {
  name: "reports-worker",
  clientId: "2f1b7f0e-8d7e-4f55-9b1e-0c6f3a3f7a01",
  objectId: "7a0e3c2d-5b4f-4e1a-8c9d-1f2e3a4b5c6d",
  resourceId:
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/keyless-local/providers/Microsoft.ManagedIdentity/userAssignedIdentities/reports-worker",
};
// Two identities with one display name (in two resource groups, as Azure allows): grant must refuse to guess.
const inResourceGroup = (group: string) =>
  `/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/${group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/batch-worker`;
const BATCH = [
  {
    name: "batch-worker",
    clientId: "0b3c1d2e-1111-4a5b-8c6d-7e8f9a0b1c2d",
    objectId: "5e6f7a8b-2222-4c3d-9e0f-1a2b3c4d5e6f",
    resourceId: inResourceGroup("batch-east"),
  },
  {
    name: "batch-worker",
    clientId: "9c8b7a6d-3333-4e2f-a1b0-c9d8e7f6a5b4",
    objectId: "d4c3b2a1-4444-4f6e-8d7c-b6a5f4e3d2c1",
    resourceId: inResourceGroup("batch-west"),
  },
];

/**
 * keyless grant / revoke / roles against the local Microsoft Graph, with the admin's managed identity
 * (keyless-admin, which holds Application.Read.All and AppRoleAssignment.ReadWrite.All).
 */
describe("keyless grant, revoke and roles", () => {
  let stack: TestStack;
  let graph: GraphClient;
  let cliEnv: Record<string, string | undefined>;

  const assignmentsOf = (objectId: string) =>
    stack.tenant
      .appRoleAssignments()
      .filter((a) => a.principalId === objectId && a.resourceId === ORDERS_API.spId);
  const rolesIssuedTo = async (name: string) => {
    const identity = stack.tenant.findIdentity(name)!;
    const issued = await stack.identity.issuer.issueFor(identity, `api://${ORDERS_API.appId}`);
    return (decodeJwt(issued.accessToken).roles as string[] | undefined) ?? [];
  };

  before(async () => {
    const tenant = await sampleTenant();
    (tenant.managedIdentities as unknown[]).push(REPORTS, ...BATCH);
    stack = await startTestStack({ tenant });
    graph = createGraphClient({
      credential: new ManagedIdentityCredential({ clientId: ADMIN_CLIENT_ID }),
      baseUrl: stack.identity.graphUrl,
    });
    const env = stack.env();
    cliEnv = {
      IDENTITY_ENDPOINT: env.IDENTITY_ENDPOINT,
      IDENTITY_HEADER: env.IDENTITY_HEADER,
      KEYLESS_GRAPH_URL: stack.identity.graphUrl,
      KEYLESS_ADMIN_CLIENT_ID: ADMIN_CLIENT_ID,
    };
  });

  after(async () => {
    await stack?.close();
  });

  it("grants by name and display name, and a token issued afterwards carries the role", async () => {
    assert.deepEqual((await rolesIssuedTo("orders-worker")).sort(), ["Orders.Fulfil", "Orders.Read"]);
    const run = await runKeyless(
      ["grant", "--identity", "orders-worker", "--api", "Orders API", "--role", "Orders.Refund"],
      cliEnv,
    );
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /admin credential: managed identity 9600f50e/);
    assert.match(run.stdout, /identity {2}orders-worker {2}object id c1fcf6b2-7fc3-4a43-92cd-5ea3cadbce61/);
    assert.match(run.stdout, /granted: created assignment [0-9a-f-]{36}/);
    assert.match(
      run.stdout,
      /az rest -m POST -u "https:\/\/graph\.microsoft\.com\/v1\.0\/servicePrincipals\/b9221a20-18db-4271-83e3-2d5ae8f8aade\/appRoleAssignedTo"/,
    );
    assert.match(run.stdout, /"appRoleId":"c5364fcf-e42c-4393-9129-c18bf717cb06"/);
    assert.match(run.stderr, /keep their old roles until they expire/);
    assert.ok(!/eyJ/.test(run.stdout + run.stderr), "no token is printed");

    // Through the real SDK: this process has never asked for a token for orders-worker and this API, so MSAL's
    // process-wide cache cannot hand back an older one; the endpoint issues a fresh token that carries the grant.
    // (A process that already holds a token keeps its old roles until it nears expiry — the warning above.)
    const token = await new ManagedIdentityCredential({
      clientId: "eb7db80e-1d4d-44ad-8bd1-b8954bad2e36",
    }).getToken(`api://${ORDERS_API.appId}/.default`);
    assert.ok((decodeJwt(token.token).roles as string[]).includes("Orders.Refund"));
  });

  it("grants by object id, client id and ARM id, to an API named by App ID URI, scope or appId", async () => {
    const cases = [
      { identity: REPORTS.objectId, api: `api://${ORDERS_API.appId}`, role: "Orders.Read" as const },
      {
        identity: REPORTS.clientId,
        api: `api://${ORDERS_API.appId}/.default`,
        role: "Orders.Fulfil" as const,
      },
      // Typed the way the portal shows it (resourceGroups); Graph stores it lower-case.
      {
        identity: REPORTS.resourceId.replace("resourcegroups", "resourceGroups"),
        api: ORDERS_API.appId,
        role: "Orders.Refund" as const,
      },
    ];
    for (const c of cases) {
      const resolved = await resolveGrant(graph, c);
      assert.equal(resolved.identity.id, REPORTS.objectId, `identity ${c.identity}`);
      assert.equal(resolved.api.id, ORDERS_API.spId, `api ${c.api}`);
      assert.equal(resolved.role.id, ROLE_IDS[c.role]);
      assert.equal((await grantAppRole(graph, resolved)).status, "created");
    }
    assert.deepEqual((await rolesIssuedTo(REPORTS.name)).sort(), [
      "Orders.Fulfil",
      "Orders.Read",
      "Orders.Refund",
    ]);

    const roles = await runKeyless(["roles", "--identity", REPORTS.name, "--json"], cliEnv);
    assert.equal(roles.code, 0, roles.stderr);
    const listed = roles.json<{
      apis: Array<{ api: { displayName: string }; roles: Array<{ value: string }> }>;
    }>();
    assert.deepEqual(
      listed.apis.map((a) => [a.api.displayName, a.roles.map((r) => r.value).sort()]),
      [["Orders API", ["Orders.Fulfil", "Orders.Read", "Orders.Refund"]]],
    );
  });

  it("treats a role that is already granted as success and changes nothing", async () => {
    const before = assignmentsOf(REPORTS.objectId)
      .map((a) => a.id)
      .sort();
    const run = await runKeyless(
      ["grant", "--identity", REPORTS.clientId, "--api", "Orders API", "--role", "Orders.Read", "--json"],
      cliEnv,
    );
    assert.equal(run.code, 0, run.stderr);
    const out = run.json<{ status: string; changed: boolean; assignmentId: string }>();
    assert.equal(out.status, "exists");
    assert.equal(out.changed, false);
    assert.ok(before.includes(out.assignmentId));
    assert.deepEqual(
      assignmentsOf(REPORTS.objectId)
        .map((a) => a.id)
        .sort(),
      before,
    );
  });

  it("treats Graph's 400 'already exists' as success when the assignment appears between list and create", async () => {
    const resolved = await resolveGrant(graph, {
      identity: REPORTS.name,
      api: "Orders API",
      role: "Orders.Read",
    });
    // A second operator's grant lands after our list: hide it from the list so our POST meets Graph's 400.
    let listed = 0;
    const racing: GraphClient = {
      ...graph,
      get: async <T>(path: string) => {
        const result = await graph.get<T>(path);
        return (path.includes("/appRoleAssignments") && listed++ === 0 ? { value: [] } : result) as T;
      },
    };
    const result = await grantAppRole(racing, resolved);
    assert.equal(result.status, "exists");
    assert.ok(result.assignment?.id);
  });

  it("refuses an ambiguous identity name and lists the candidates", async () => {
    const count = stack.tenant.appRoleAssignments().length;
    const run = await runKeyless(
      ["grant", "--identity", "batch-worker", "--api", "Orders API", "--role", "Orders.Read"],
      cliEnv,
    );
    assert.equal(run.code, 1);
    assert.match(run.stderr, /"batch-worker" names 2 managed identities/);
    for (const b of BATCH) assert.ok(run.stderr.includes(b.objectId) && run.stderr.includes(b.clientId));
    assert.equal(stack.tenant.appRoleAssignments().length, count);
    // Either one can still be chosen by id.
    const one = await resolveIdentity(graph, BATCH[1]!.objectId);
    assert.equal(one.appId, BATCH[1]!.clientId);
  });

  it("names the API's roles when the role value is unknown", async () => {
    const run = await runKeyless(
      ["grant", "--identity", "orders-worker", "--api", "Orders API", "--role", "orders.refund", "--json"],
      cliEnv,
    );
    assert.equal(run.code, 1);
    const out = run.json<{ ok: boolean; error: { message: string } }>();
    assert.equal(out.ok, false);
    assert.match(out.error.message, /did you mean Orders\.Refund/);
    assert.match(out.error.message, /Orders\.Read \(Read orders\)/);
  });

  it("changes nothing on --dry-run and still prints the az rest call", async () => {
    const count = stack.tenant.appRoleAssignments().length;
    const run = await runKeyless(
      [
        "grant",
        "--identity",
        BATCH[0]!.clientId,
        "--api",
        "Orders API",
        "--role",
        "Orders.Read",
        "--dry-run",
        "--json",
      ],
      cliEnv,
    );
    assert.equal(run.code, 0, run.stderr);
    const out = run.json<{ status: string; azRest: string }>();
    assert.equal(out.status, "would-create");
    assert.ok(out.azRest.includes(`"principalId":"${BATCH[0]!.objectId}"`));
    assert.equal(stack.tenant.appRoleAssignments().length, count);
  });

  it("revokes, revoking again is success, and the tenant stops issuing the role", async () => {
    const first = await runKeyless(
      ["revoke", "--identity", REPORTS.name, "--api", "Orders API", "--role", "Orders.Refund", "--json"],
      cliEnv,
    );
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.json<{ status: string }>().status, "deleted");
    assert.ok(!(await rolesIssuedTo(REPORTS.name)).includes("Orders.Refund"));
    const again = await revokeAppRole(
      graph,
      await resolveGrant(graph, { identity: REPORTS.name, api: "Orders API", role: "Orders.Refund" }),
    );
    assert.equal(again.status, "absent");
    const listed = await listAppRoles(graph, await resolveIdentity(graph, REPORTS.name));
    assert.deepEqual(listed[0]?.roles.map((r) => r.value).sort(), ["Orders.Fulfil", "Orders.Read"]);
  });

  it("reports Graph's own error when the admin identity lacks Graph permissions", async () => {
    const run = await runKeyless(
      ["grant", "--identity", "orders-worker", "--api", "Orders API", "--role", "Orders.Read"],
      { ...cliEnv, KEYLESS_ADMIN_CLIENT_ID: PRODUCER_CLIENT_ID },
    );
    assert.equal(run.code, 1);
    assert.match(run.stderr, /403 Authorization_RequestDenied: Insufficient privileges/);
  });
});
