import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { TenantFileError, tenantFromObject } from "../../tenant/index.ts";

const TENANT = "d44b06c2-49c9-4449-ac43-10feff5ae020";

const identity = (name: string, n: number) => ({
  name,
  clientId: `2${n}111111-2222-4333-8444-555555555555`,
  objectId: `3${n}111111-2222-4333-8444-555555555555`,
});
const application = (displayName: string, n: number) => ({
  displayName,
  appId: `4${n}111111-2222-4333-8444-555555555555`,
  servicePrincipalId: `5${n}111111-2222-4333-8444-555555555555`,
});

/** The consistency problems a tenant file is refused with. */
function problemsOf(file: Record<string, unknown>): string {
  try {
    tenantFromObject({ tenantId: TENANT, ...file });
  } catch (error) {
    assert.ok(error instanceof TenantFileError, String(error));
    return error.message;
  }
  assert.fail("the tenant file was accepted");
}

describe("a tenant file with two entries of one name", () => {
  it("is refused when two identities share a name, naming both entries and the fix", () => {
    const message = problemsOf({ managedIdentities: [identity("twin", 1), identity("Twin", 2)] });
    assert.match(
      message,
      /"Twin" is used by both managedIdentities\[0\] \(twin\) and managedIdentities\[1\] \(Twin\)/,
    );
    assert.match(message, /rename one/);
  });

  it("is refused when two applications share a display name", () => {
    const message = problemsOf({
      applications: [application("Billing API", 1), application("billing api", 2)],
    });
    assert.match(
      message,
      /"billing api" is used by both applications\[0\] \(Billing API\) and applications\[1\]/,
    );
  });

  it("is refused when an application is named like a built-in one, which the file only assigns roles of", () => {
    const message = problemsOf({ applications: [application("Microsoft Graph", 1)] });
    assert.match(
      message,
      /"Microsoft Graph" is used by both the built-in application Microsoft Graph and applications\[0\] \(Microsoft Graph\)/,
    );
  });

  it("is still refused when two differently named entries share an id", () => {
    const message = problemsOf({
      managedIdentities: [identity("a", 1), { ...identity("b", 2), clientId: identity("a", 1).clientId }],
    });
    assert.match(message, /is used by both managedIdentities\[0\] \(a\) and managedIdentities\[1\] \(b\)/);
  });

  it("accepts one identity name in two resource groups, as Azure does, each with its own resourceId", () => {
    const inGroup = (n: number, group: string) => ({
      ...identity("batch-worker", n),
      resourceId: `/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/${group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/batch-worker`,
    });
    const tenant = tenantFromObject({
      tenantId: TENANT,
      managedIdentities: [inGroup(1, "a"), inGroup(2, "b")],
    });
    assert.equal(tenant.identities.length, 2);
  });

  it("refuses an assignment that names such an identity by its shared name, and says how to name one", () => {
    const inGroup = (n: number, group: string) => ({
      ...identity("batch-worker", n),
      resourceId: `/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/${group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/batch-worker`,
    });
    const message = problemsOf({
      managedIdentities: [inGroup(1, "a"), inGroup(2, "b")],
      serviceBusRoleAssignments: [
        { principal: "batch-worker", role: "Azure Service Bus Data Receiver", scope: "ns" },
      ],
    });
    assert.match(
      message,
      /serviceBusRoleAssignments\[0\]\.principal: "batch-worker" names 2 managed identities \(managedIdentities\[0\], managedIdentities\[1\]\); name one by client id, object id or resource id/,
    );
  });

  it("accepts an identity whose name repeats one of its own ids", () => {
    const own = identity("x", 1);
    assert.doesNotThrow(() =>
      tenantFromObject({ tenantId: TENANT, managedIdentities: [{ ...own, name: own.clientId }] }),
    );
  });
});
