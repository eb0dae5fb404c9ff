import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { ManagedIdentityCredential, WorkloadIdentityCredential } from "@azure/identity";

import { chooseCredential, CredentialConfigError, managedIdentitySource } from "../../src/identity/index.ts";

const clientId = "eb7db80e-1d4d-44ad-8bd1-b8954bad2e36";

describe("credential choice", () => {
  it("uses a user-assigned managed identity when AZURE_CLIENT_ID is set", () => {
    const chosen = chooseCredential({
      IDENTITY_ENDPOINT: "http://x/msi/token",
      IDENTITY_HEADER: "h",
      AZURE_CLIENT_ID: clientId,
    });
    assert.ok(chosen.credential instanceof ManagedIdentityCredential);
    assert.equal(chosen.source, "AppService");
    assert.match(
      chosen.description,
      /App Service \/ Container Apps endpoint, user-assigned, client id eb7db80e/,
    );
  });

  it("uses the system-assigned identity otherwise, through IMDS on a VM", () => {
    const chosen = chooseCredential({});
    assert.ok(chosen.credential instanceof ManagedIdentityCredential);
    assert.equal(chosen.source, "Imds");
    assert.match(chosen.description, /system-assigned/);
  });

  it("names the managed-identity source in MSAL's order", () => {
    assert.equal(
      managedIdentitySource({
        IDENTITY_ENDPOINT: "e",
        IDENTITY_HEADER: "h",
        IDENTITY_SERVER_THUMBPRINT: "t",
      }),
      "ServiceFabric",
    );
    assert.equal(managedIdentitySource({ MSI_ENDPOINT: "e", MSI_SECRET: "s" }), "MachineLearning");
    assert.equal(managedIdentitySource({ MSI_ENDPOINT: "e" }), "CloudShell");
    assert.equal(managedIdentitySource({ IDENTITY_ENDPOINT: "e", IMDS_ENDPOINT: "i" }), "AzureArc");
  });

  it("switches to workload identity only when all three of its variables are set", () => {
    const chosen = chooseCredential({
      AZURE_CLIENT_ID: clientId,
      AZURE_TENANT_ID: "t",
      AZURE_FEDERATED_TOKEN_FILE: "/var/run/token",
    });
    assert.ok(chosen.credential instanceof WorkloadIdentityCredential);
    assert.equal(chosen.source, "WorkloadIdentity");
  });

  it("refuses a client secret in the environment instead of silently using it", () => {
    assert.throws(
      () =>
        chooseCredential({ AZURE_CLIENT_ID: clientId, AZURE_TENANT_ID: "t", AZURE_CLIENT_SECRET: "s3cret" }),
      (error: unknown) => {
        assert.ok(error instanceof CredentialConfigError);
        assert.match(error.message, /AZURE_CLIENT_SECRET/);
        assert.doesNotMatch(error.message, /s3cret/);
        return true;
      },
    );
  });

  it("names AZURE_CLIENT_ID when it is not a GUID", () => {
    assert.throws(
      () => chooseCredential({ AZURE_CLIENT_ID: "orders-worker" }),
      /AZURE_CLIENT_ID: expected .*GUID/,
    );
  });

  it("uses a developer login only when KEYLESS_CREDENTIAL=developer asks for it, and says so", () => {
    const chosen = chooseCredential({ KEYLESS_CREDENTIAL: "developer" });
    assert.equal(chosen.source, "Developer");
    assert.match(chosen.description, /never use this in production/);
  });
});
