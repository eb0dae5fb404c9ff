import { accessSync, constants } from "node:fs";

import {
  AzureCliCredential,
  ManagedIdentityCredential,
  type TokenCredential,
  WorkloadIdentityCredential,
} from "@azure/identity";

import { CredentialConfigError } from "./errors.ts";

/** The managed-identity sources, named as msal-node 7's ManagedIdentitySourceNames (IMDS is its "DefaultToImds"). */
export type ManagedIdentitySource =
  "AppService" | "ServiceFabric" | "MachineLearning" | "CloudShell" | "AzureArc" | "Imds";

/** Where tokens come from: a managed-identity source, or one of the two explicit alternatives. */
export type CredentialSource = ManagedIdentitySource | "WorkloadIdentity" | "Developer";

export interface ChosenCredential {
  readonly credential: TokenCredential;
  readonly source: CredentialSource;
  /** One line for the start-up log: the source and which identity; never a secret. */
  readonly description: string;
}

type Env = Readonly<Record<string, string | undefined>>;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Variables that mean secret-based auth; EnvironmentCredential would pick them up inside any credential chain. */
const SECRET_VARIABLES = [
  "AZURE_CLIENT_SECRET",
  "AZURE_CLIENT_CERTIFICATE_PATH",
  "AZURE_CLIENT_CERTIFICATE_PASSWORD",
  "AZURE_PASSWORD",
];

/** Endpoints MSAL parses as URLs when their source is picked; a typo fails only at the first token request. */
const ENDPOINT_VARIABLES = [
  "IDENTITY_ENDPOINT",
  "MSI_ENDPOINT",
  "IMDS_ENDPOINT",
  "AZURE_POD_IDENTITY_AUTHORITY_HOST",
];

/** msal-node's Azure Arc file detection (AzureArc.mjs AZURE_ARC_FILE_DETECTION): the agent's helper binary. */
function arcAgentInstalled(): boolean {
  const path =
    process.platform === "win32"
      ? `${process.env.ProgramFiles}\\AzureConnectedMachineAgent\\himds.exe`
      : process.platform === "linux"
        ? "/opt/azcmagent/bin/himds"
        : undefined;
  if (path === undefined) return false;
  try {
    accessSync(path, constants.F_OK | constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The managed-identity source msal-node 7.2 will pick from these variables, in its own order
 * (ManagedIdentityClient.getManagedIdentitySource): Service Fabric, App Service (also Functions and Container
 * Apps), Machine Learning, Cloud Shell, Azure Arc (variables or the installed agent), else IMDS.
 */
export function managedIdentitySource(
  env: Env,
  options: { arcAgentInstalled?: boolean } = {},
): ManagedIdentitySource {
  const set = (name: string) => (env[name] ?? "") !== "";
  if (set("IDENTITY_ENDPOINT") && set("IDENTITY_HEADER") && set("IDENTITY_SERVER_THUMBPRINT"))
    return "ServiceFabric";
  if (set("IDENTITY_ENDPOINT") && set("IDENTITY_HEADER")) return "AppService";
  if (set("MSI_ENDPOINT") && set("MSI_SECRET")) return "MachineLearning";
  if (set("MSI_ENDPOINT")) return "CloudShell";
  if (set("IDENTITY_ENDPOINT") && set("IMDS_ENDPOINT")) return "AzureArc";
  if (options.arcAgentInstalled ?? arcAgentInstalled()) return "AzureArc";
  return "Imds";
}

const SOURCE_TEXT: Record<ManagedIdentitySource, string> = {
  AppService: "App Service / Container Apps endpoint",
  ServiceFabric: "Service Fabric endpoint",
  MachineLearning: "Azure Machine Learning endpoint",
  CloudShell: "Cloud Shell endpoint",
  AzureArc: "Azure Arc endpoint",
  Imds: "instance metadata service (IMDS)",
};

/**
 * Picks the credential deterministically, without trying anything on the network:
 * - production: `ManagedIdentityCredential`, user-assigned with AZURE_CLIENT_ID, else system-assigned. Never a
 *   chain: in DefaultAzureCredential a refused managed identity falls through to a developer's login.
 * - workload identity (AKS): only when AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_FEDERATED_TOKEN_FILE are all set
 *   (ManagedIdentityCredential would switch to it silently; we say so instead).
 * - developer login (Azure CLI): only when KEYLESS_CREDENTIAL=developer asks for it.
 *
 * Throws CredentialConfigError naming every variable at fault: secrets in the environment, a malformed client id or
 * endpoint, half a workload-identity setup, a user-assigned id where the source cannot take one.
 *
 * `env` decides the choice and `source`; the SDK itself reads `process.env` (MSAL, once per process), so pass
 * `process.env` in production or mirror the identity variables into it, as `keyless dev` does.
 */
export function chooseCredential(env: Env, options: { arcAgentInstalled?: boolean } = {}): ChosenCredential {
  const problems: Array<{ variable: string; problem: string }> = [];
  const value = (name: string) => env[name]?.trim() || undefined;

  for (const variable of SECRET_VARIABLES.filter(value)) {
    problems.push({
      variable,
      problem:
        "is set, but keyless-worker refuses secret-based authentication: that is exactly what managed identities replace, " +
        "and a credential chain would prefer the secret over the identity; remove it",
    });
  }
  const clientId = value("AZURE_CLIENT_ID");
  if (clientId !== undefined && !GUID.test(clientId)) {
    problems.push({
      variable: "AZURE_CLIENT_ID",
      problem: `expected the user-assigned identity's client id (a GUID), got "${clientId}"`,
    });
  }
  for (const variable of ENDPOINT_VARIABLES.filter(value)) {
    if (!/^https?:$/.test(URL.parse(value(variable)!)?.protocol ?? "")) {
      problems.push({
        variable,
        problem: `expected an http(s) URL such as http://localhost:42356/msi/token, got "${value(variable)}"`,
      });
    }
  }
  const mode = value("KEYLESS_CREDENTIAL")?.toLowerCase() ?? "managed-identity";
  if (mode !== "managed-identity" && mode !== "developer") {
    problems.push({
      variable: "KEYLESS_CREDENTIAL",
      problem: `expected managed-identity (the default) or developer, got "${env.KEYLESS_CREDENTIAL}"`,
    });
  }
  const federated = ["AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE"];
  const federatedSet = federated.filter(value);
  const workload = federatedSet.length === federated.length;
  if (value("AZURE_FEDERATED_TOKEN_FILE") && !workload) {
    const absent = federated.filter((name) => !value(name));
    problems.push({
      variable: absent[0]!,
      problem:
        `AZURE_FEDERATED_TOKEN_FILE is set but ${absent.join(" and ")} ${absent.length > 1 ? "are" : "is"} not: ` +
        "workload identity needs all three; set them, or remove AZURE_FEDERATED_TOKEN_FILE for a managed identity",
    });
  }
  const source = managedIdentitySource(env, options);
  if (mode === "managed-identity" && !workload && clientId !== undefined) {
    if (source === "CloudShell" || source === "ServiceFabric") {
      problems.push({
        variable: "AZURE_CLIENT_ID",
        problem: `the ${SOURCE_TEXT[source]} serves only the identity configured for the resource; remove AZURE_CLIENT_ID`,
      });
    }
  }
  if (problems.length > 0) throw new CredentialConfigError(problems);

  if (mode === "developer") {
    return {
      credential: new AzureCliCredential(),
      source: "Developer",
      description:
        "developer login (Azure CLI, `az login`), because KEYLESS_CREDENTIAL=developer asked for it; never use this in production",
    };
  }
  if (workload) {
    return {
      credential: new WorkloadIdentityCredential({
        clientId: clientId!,
        tenantId: value("AZURE_TENANT_ID")!,
        tokenFilePath: value("AZURE_FEDERATED_TOKEN_FILE")!,
      }),
      source: "WorkloadIdentity",
      description: `workload identity (federated token file, AKS), client id ${clientId}, because AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_FEDERATED_TOKEN_FILE are set`,
    };
  }
  return {
    credential: clientId ? new ManagedIdentityCredential({ clientId }) : new ManagedIdentityCredential(),
    source,
    description: `managed identity (${SOURCE_TEXT[source]}), ${clientId ? `user-assigned client id ${clientId}` : "system-assigned"}`,
  };
}
