import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { createEntraTokenValidator } from "@keyless/entra-auth";

import { type IdentityPlatform, startIdentityPlatform } from "../../identity/index.ts";
import { tenantFromObject } from "../../tenant/index.ts";

const TENANT = "d44b06c2-49c9-4449-ac43-10feff5ae020";
const APP_ID = "11111111-2222-4333-8444-555555555555";

/** An API that kept accessTokenAcceptedVersion null gets v1 tokens: another issuer, another JWKS, aud as asked. */
describe("v1 access tokens", () => {
  let platform: IdentityPlatform;
  before(async () => {
    const tenant = tenantFromObject({
      tenantId: TENANT,
      managedIdentities: [
        {
          name: "w",
          clientId: "21111111-2222-4333-8444-555555555555",
          objectId: "31111111-2222-4333-8444-555555555555",
        },
      ],
      applications: [
        {
          displayName: "Legacy API",
          appId: APP_ID,
          servicePrincipalId: "41111111-2222-4333-8444-555555555555",
          identifierUris: ["api://legacy"],
          appRoles: [{ id: "51111111-2222-4333-8444-555555555555", value: "Legacy.Use" }],
        },
      ],
      appRoleAssignments: [{ principal: "w", application: "Legacy API", role: "Legacy.Use" }],
    });
    platform = await startIdentityPlatform({ tenant, port: 0 });
  });
  after(() => platform.close());

  it("validate against the v1 metadata with the App ID URI or the appId as audience", async () => {
    const validator = createEntraTokenValidator({
      authority: platform.authority,
      tenantId: TENANT,
      audiences: ["api://legacy", APP_ID],
    });
    const identity = platform.tenant.findIdentity("w")!;
    for (const resource of ["api://legacy", APP_ID]) {
      const { accessToken, version } = await platform.issuer.issueFor(identity, resource);
      assert.equal(version, "1.0");
      const verified = await validator.verify(accessToken);
      assert.equal(verified.version, "1.0");
      assert.equal(verified.claims.aud, resource);
      assert.equal(verified.claims.iss, `${platform.authority}/${TENANT}/`);
      assert.deepEqual(verified.claims.roles, ["Legacy.Use"]);
      assert.equal(verified.callerAppId, identity.clientId);
    }
  });

  it("are refused by a validator that only accepts another audience", async () => {
    const validator = createEntraTokenValidator({
      authority: platform.authority,
      tenantId: TENANT,
      audiences: ["api://other"],
    });
    const { accessToken } = await platform.issuer.issueFor(
      platform.tenant.findIdentity("w")!,
      "api://legacy",
    );
    await assert.rejects(validator.verify(accessToken), /audience/);
  });
});
