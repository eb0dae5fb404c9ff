import pino, { type Logger } from "pino";

import { type IdentityPlatform, startIdentityPlatform } from "../../identity/index.ts";
import { loadTenantFile } from "../../tenant/index.ts";

export const ORDERS_APP_ID = "568c0ca2-0405-43bd-8d4c-bfdfd3f66f42";
export const ORDERS_SCOPE = `api://${ORDERS_APP_ID}/.default`;
export const SERVICE_BUS_SCOPE = "https://servicebus.azure.net//.default";
export const GRAPH_SCOPE = "https://graph.microsoft.com/.default";
export const TENANT_ID = "d44b06c2-49c9-4449-ac43-10feff5ae020";
/** The sample tenant's user-assigned identity: Orders.Read and Orders.Fulfil on the Orders API, not Orders.Refund. */
export const WORKER = {
  clientId: "eb7db80e-1d4d-44ad-8bd1-b8954bad2e36",
  objectId: "c1fcf6b2-7fc3-4a43-92cd-5ea3cadbce61",
};
/** The sample tenant's system-assigned identity: no roles on the Orders API. */
export const PRODUCER = {
  clientId: "b4ba427f-714d-42d9-9a7e-b6a584bd5b7c",
  objectId: "af1dfedf-3b41-481e-aa72-27449db86bd4",
};

/**
 * The sample tenant's identity platform on a free port, with IDENTITY_ENDPOINT/IDENTITY_HEADER pointing at it.
 * MSAL fixes its managed-identity source on the first token request of a process, so call this before any, and
 * give each identity setup its own test file (node's runner runs each file in its own process).
 */
export async function startPlatform(env: { header?: string } = {}): Promise<IdentityPlatform> {
  const platform = await startIdentityPlatform({ tenant: await loadTenantFile(), port: 0 });
  process.env.IDENTITY_ENDPOINT = platform.identityEndpoint;
  process.env.IDENTITY_HEADER = env.header ?? platform.identityHeader;
  return platform;
}

/** A JWT's payload, decoded without the code under test. */
export function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8")) as Record<
    string,
    unknown
  >;
}

/** A token-shaped string with these claims and a fake signature (for code that decodes but never verifies). */
export function unsignedJwt(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ typ: "JWT", alg: "RS256", kid: "test" })}.${part(claims)}.c2lnbmF0dXJl`;
}

/** A plain pino logger (no redaction, so it proves what the code hands it) that keeps everything it writes. */
export function capturingLogger(): { logger: Logger; text: () => string } {
  const chunks: string[] = [];
  const logger = pino({ level: "trace" }, { write: (chunk: string) => void chunks.push(chunk) });
  return { logger, text: () => chunks.join("") };
}
