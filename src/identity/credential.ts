import {
  AzureCliCredential,
  ManagedIdentityCredential,
  type TokenCredential,
  WorkloadIdentityCredential,
} from "@azure/identity";

import { CredentialConfigError } from "./errors.ts";

/** Where the token comes from, named as MSAL names managed-identity sources, plus the two explicit alternatives. */
export type CredentialSource =
  | "AppService"
  | "ServiceFabric"
  | "MachineLearning"
  | "CloudShell"
  | "AzureArc"
  | "Imds"
  | "WorkloadIdentity"
  | "Developer";

export interface ChosenCredential {
  readonly credential: TokenCredential;
  readonly source: CredentialSource;
  /** One line for the log; never a secret. */
  readonly description: string;
}

type Env = Readonly<Record<string, string | undefined>>;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The managed-identity source MSAL will pick from these variables, in MSAL's own order. */
export function managedIdentitySource(env: Env): Exclude<CredentialSource, "WorkloadIdentity" | "Developer"> {
  const set = (name: string) => (env[name] ?? "") !== "";
  if (set("IDENTITY_ENDPOINT") && set("IDENTITY_HEADER") && set("IDENTITY_SERVER_THUMBPRINT"))
    return "ServiceFabric";
  if (set("IDENTITY_ENDPOINT") && set("IDENTITY_HEADER")) return "AppService";
  if (set("MSI_ENDPOINT") && set("MSI_SECRET")) return "MachineLearning";
  if (set("MSI_ENDPOINT")) return "CloudShell";
  if (set("IDENTITY_ENDPOINT") && set("IMDS_ENDPOINT")) return "AzureArc";
  return "Imds";
}

const SOURCE_TEXT: Record<string, string> = {
  AppService: "App Service / Container Apps endpoint",
  ServiceFabric: "Service Fabric endpoint",
  MachineLearning: "Azure Machine Learning endpoint",
  CloudShell: "Cloud Shell endpoint",
  AzureArc: "Azure Arc endpoint",
  Imds: "instance metadata service (IMDS)",
};

/**
 * Picks the credential deterministically. Production is always a managed identity (user-assigned with
 * AZURE_CLIENT_ID, system-assigned otherwise): never a chain that could fall through to a developer's login.
 * Workload identity is used only when its three variables say so, and developer credentials only when
 * KEYLESS_CREDENTIAL=developer asks for them. Secrets in the environment are refused outright.
 */
export function chooseCredential(env: Env): ChosenCredential {
  const problems: string[] = [];
  if (env.AZURE_CLIENT_SECRET) {
    problems.push(
      "AZURE_CLIENT_SECRET is set: keyless-worker does not use client secrets (that is what managed identities replace); remove it",
    );
  }
  if (env.AZURE_CLIENT_CERTIFICATE_PATH) {
    problems.push("AZURE_CLIENT_CERTIFICATE_PATH is set: certificate credentials are not used; remove it");
  }
  const clientId = env.AZURE_CLIENT_ID?.trim() || undefined;
  if (clientId !== undefined && !GUID.test(clientId)) {
    problems.push(
      `AZURE_CLIENT_ID: expected the user-assigned identity's client id (a GUID), got "${clientId}"`,
    );
  }
  const mode = env.KEYLESS_CREDENTIAL?.trim().toLowerCase() || "managed-identity";
  if (!["managed-identity", "developer"].includes(mode)) {
    problems.push(
      `KEYLESS_CREDENTIAL: expected managed-identity (default) or developer, got "${env.KEYLESS_CREDENTIAL}"`,
    );
  }
  if (problems.length > 0) throw new CredentialConfigError(problems.join("\n"));

  if (mode === "developer") {
    return {
      credential: new AzureCliCredential(),
      source: "Developer",
      description:
        "developer login (Azure CLI), because KEYLESS_CREDENTIAL=developer — never use this in production",
    };
  }
  if (clientId && env.AZURE_TENANT_ID && env.AZURE_FEDERATED_TOKEN_FILE) {
    return {
      credential: new WorkloadIdentityCredential({
        clientId,
        tenantId: env.AZURE_TENANT_ID,
        tokenFilePath: env.AZURE_FEDERATED_TOKEN_FILE,
      }),
      source: "WorkloadIdentity",
      description: `workload identity (AKS federated token), client id ${clientId}`,
    };
  }
  const source = managedIdentitySource(env);
  return {
    credential: clientId ? new ManagedIdentityCredential({ clientId }) : new ManagedIdentityCredential(),
    source,
    description: `managed identity via the ${SOURCE_TEXT[source]}, ${clientId ? `user-assigned, client id ${clientId}` : "system-assigned"}`,
  };
}
