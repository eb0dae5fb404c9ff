import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { AzureCliCredential, ManagedIdentityCredential, WorkloadIdentityCredential } from "@azure/identity";

import { chooseCredential, CredentialConfigError, managedIdentitySource } from "../../src/identity/index.ts";

// Pure unit tests: nothing here asks for a token, so MSAL's process-wide source is never fixed.
const clientId = "eb7db80e-1d4d-44ad-8bd1-b8954bad2e36";
const appService = { IDENTITY_ENDPOINT: "http://localhost:42356/msi/token", IDENTITY_HEADER: "h" };
const noArc = { arcAgentInstalled: false };

/** Asserts chooseCredential refuses `env` with a CredentialConfigError naming `variable`; returns the message. */
function refused(env: Record<string, string>, variable: string): string {
  let message = "";
  assert.throws(
    () => chooseCredential(env, noArc),
    (error: unknown) => {
      assert.ok(error instanceof CredentialConfigError, `got ${String(error)}`);
      assert.ok(error.variables.includes(variable), `variables: ${error.variables.join(", ")}`);
      message = error.message;
      return true;
    },
  );
  return message;
}

describe("chooseCredential in production mode", () => {
  it("uses a user-assigned ManagedIdentityCredential when AZURE_CLIENT_ID is set, and says which", () => {
    const chosen = chooseCredential({ ...appService, AZURE_CLIENT_ID: clientId }, noArc);
    assert.ok(chosen.credential instanceof ManagedIdentityCredential);
    assert.equal(chosen.source, "AppService");
    assert.equal(
      chosen.description,
      `managed identity (App Service / Container Apps endpoint), user-assigned client id ${clientId}`,
    );
  });

  it("uses the system-assigned identity when AZURE_CLIENT_ID is unset, through IMDS when nothing else is set", () => {
    const chosen = chooseCredential({}, noArc);
    assert.ok(chosen.credential instanceof ManagedIdentityCredential);
    assert.equal(chosen.source, "Imds");
    assert.equal(chosen.description, "managed identity (instance metadata service (IMDS)), system-assigned");
  });

  it("ignores a tenant id without a secret or token file (it stays a managed identity)", () => {
    const chosen = chooseCredential(
      { ...appService, AZURE_CLIENT_ID: clientId, AZURE_TENANT_ID: "t" },
      noArc,
    );
    assert.ok(chosen.credential instanceof ManagedIdentityCredential);
  });

  it("switches to WorkloadIdentityCredential only when all three of its variables are set, and says why", () => {
    const chosen = chooseCredential(
      { AZURE_CLIENT_ID: clientId, AZURE_TENANT_ID: "t", AZURE_FEDERATED_TOKEN_FILE: "/var/run/token" },
      noArc,
    );
    assert.ok(chosen.credential instanceof WorkloadIdentityCredential);
    assert.equal(chosen.source, "WorkloadIdentity");
    assert.match(chosen.description, /workload identity .*AZURE_FEDERATED_TOKEN_FILE are set/);
  });
});

describe("managedIdentitySource follows msal-node's order", () => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ ...appService, IDENTITY_SERVER_THUMBPRINT: "t" }, "ServiceFabric"],
    [appService, "AppService"],
    [{ ...appService, MSI_ENDPOINT: "http://m", MSI_SECRET: "s" }, "AppService"],
    [{ MSI_ENDPOINT: "http://m", MSI_SECRET: "s" }, "MachineLearning"],
    [{ MSI_ENDPOINT: "http://m" }, "CloudShell"],
    [{ IDENTITY_ENDPOINT: "http://e", IMDS_ENDPOINT: "http://i" }, "AzureArc"],
    [{ IDENTITY_ENDPOINT: "http://e" }, "Imds"],
    [{ IDENTITY_ENDPOINT: "http://e", IDENTITY_HEADER: "" }, "Imds"],
    [{ AZURE_POD_IDENTITY_AUTHORITY_HOST: "http://p" }, "Imds"],
  ];
  for (const [env, source] of cases) {
    it(`picks ${source} for ${Object.keys(env).join(" + ") || "nothing"}`, () => {
      assert.equal(managedIdentitySource(env, noArc), source);
    });
  }

  it("picks Azure Arc when the Arc agent is installed, as MSAL's file detection does", () => {
    assert.equal(managedIdentitySource({}, { arcAgentInstalled: true }), "AzureArc");
    assert.equal(managedIdentitySource(appService, { arcAgentInstalled: true }), "AppService");
  });
});

describe("chooseCredential refuses dangerous or ambiguous setups", () => {
  for (const variable of ["AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_PASSWORD"]) {
    it(`refuses ${variable}, says secrets are what we avoid, and never echoes the value`, () => {
      const message = refused(
        { AZURE_CLIENT_ID: clientId, AZURE_TENANT_ID: "t", [variable]: "s3cret-value" },
        variable,
      );
      assert.match(message, /refuses secret-based authentication/);
      assert.doesNotMatch(message, /s3cret-value/);
    });
  }

  it("refuses a secret even in developer mode", () => {
    refused({ KEYLESS_CREDENTIAL: "developer", AZURE_CLIENT_SECRET: "x" }, "AZURE_CLIENT_SECRET");
  });

  it("names AZURE_CLIENT_ID when it is not a GUID", () => {
    assert.match(
      refused({ AZURE_CLIENT_ID: "orders-worker" }, "AZURE_CLIENT_ID"),
      /a GUID\), got "orders-worker"/,
    );
  });

  it("names IDENTITY_ENDPOINT when it is not a URL (MSAL would fail only at the first token request)", () => {
    refused({ IDENTITY_ENDPOINT: "localhost:42356/msi/token", IDENTITY_HEADER: "h" }, "IDENTITY_ENDPOINT");
  });

  it("refuses half a workload-identity setup and names what is missing", () => {
    const message = refused(
      { AZURE_CLIENT_ID: clientId, AZURE_FEDERATED_TOKEN_FILE: "/var/run/token" },
      "AZURE_TENANT_ID",
    );
    assert.match(message, /workload identity needs all three/);
  });

  it("refuses a user-assigned client id where the source serves only the resource's own identity", () => {
    refused({ MSI_ENDPOINT: "http://m", AZURE_CLIENT_ID: clientId }, "AZURE_CLIENT_ID");
    refused({ ...appService, IDENTITY_SERVER_THUMBPRINT: "t", AZURE_CLIENT_ID: clientId }, "AZURE_CLIENT_ID");
  });

  it("refuses an unknown KEYLESS_CREDENTIAL instead of guessing", () => {
    refused({ KEYLESS_CREDENTIAL: "default" }, "KEYLESS_CREDENTIAL");
  });

  it("reports every problem at once", () => {
    assert.throws(
      () => chooseCredential({ AZURE_CLIENT_SECRET: "x", AZURE_CLIENT_ID: "nope" }, noArc),
      (error: unknown) => {
        assert.ok(error instanceof CredentialConfigError);
        assert.deepEqual([...error.variables].sort(), ["AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"]);
        return true;
      },
    );
  });
});

describe("chooseCredential in developer mode", () => {
  it("uses the Azure CLI login only when KEYLESS_CREDENTIAL=developer asks for it, and says so", () => {
    const chosen = chooseCredential({ ...appService, KEYLESS_CREDENTIAL: "developer" }, noArc);
    assert.ok(chosen.credential instanceof AzureCliCredential);
    assert.equal(chosen.source, "Developer");
    assert.match(
      chosen.description,
      /KEYLESS_CREDENTIAL=developer asked for it; never use this in production/,
    );
  });
});
