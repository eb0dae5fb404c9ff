import { type IdentityPlatform, startIdentityPlatform } from "../../src/local/identity/index.ts";
import { loadTenantFile } from "../../src/local/tenant/index.ts";

export const ORDERS_SCOPE = "api://568c0ca2-0405-43bd-8d4c-bfdfd3f66f42/.default";
export const ORDERS_APP_ID = "568c0ca2-0405-43bd-8d4c-bfdfd3f66f42";
export const WORKER = {
  clientId: "eb7db80e-1d4d-44ad-8bd1-b8954bad2e36",
  objectId: "c1fcf6b2-7fc3-4a43-92cd-5ea3cadbce61",
};
export const PRODUCER = {
  clientId: "b4ba427f-714d-42d9-9a7e-b6a584bd5b7c",
  objectId: "af1dfedf-3b41-481e-aa72-27449db86bd4",
};

/**
 * The sample tenant's identity platform on a free port, with IDENTITY_ENDPOINT/IDENTITY_HEADER pointing at it.
 * MSAL fixes its managed-identity source on the first token request of a process, so call this before any.
 */
export async function startPlatform(env: { header?: string } = {}): Promise<IdentityPlatform> {
  const platform = await startIdentityPlatform({ tenant: await loadTenantFile(), port: 0 });
  process.env.IDENTITY_ENDPOINT = platform.identityEndpoint;
  process.env.IDENTITY_HEADER = env.header ?? platform.identityHeader;
  return platform;
}

export function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8")) as Record<
    string,
    unknown
  >;
}
