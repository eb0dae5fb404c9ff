import { decodeJwt } from "jose";

import { TokenFormatError } from "./errors.ts";

/** What the worker reads from an access token it was given. Decoded, not verified: the API verifies. */
export interface TokenClaims {
  /** The identity's service-principal object id (`oid`). */
  readonly objectId: string;
  /** The calling identity's client id (`appid` in v1 tokens, `azp` in v2). */
  readonly appId: string | undefined;
  /** `aud`: the API's appId in v2 tokens; in v1 whatever resource was asked for (URI or GUID). */
  readonly audience: string | undefined;
  /** App-role values granted to the identity on this API; empty when the token has no `roles` claim. */
  readonly roles: readonly string[];
  /** Epoch milliseconds (`exp`). */
  readonly expiresAt: number;
  /** `ver`: "1.0" or "2.0". */
  readonly version: string | undefined;
  /** `tid`. */
  readonly tenantId: string | undefined;
}

/**
 * Reads the claims the worker needs. `fallbackExpiresAt` (the SDK's `expiresOnTimestamp`) is used only when the
 * token has no numeric `exp`. The errors describe the token's shape, never its content.
 */
export function readTokenClaims(token: string, fallbackExpiresAt?: number): TokenClaims {
  if (typeof token !== "string" || token.length === 0) {
    throw new TokenFormatError("the access token is empty");
  }
  const parts = token.split(".").length;
  if (parts !== 3) {
    throw new TokenFormatError(
      `the access token is not a signed JWT: it has ${parts} dot-separated part${parts === 1 ? "" : "s"}, expected 3`,
    );
  }
  let payload: Record<string, unknown>;
  try {
    payload = decodeJwt(token);
  } catch (error) {
    // jose's messages describe the failure ("Failed to parse the decoded payload as JSON"), not the input.
    throw new TokenFormatError(`the access token's payload is not readable: ${(error as Error).message}`);
  }
  const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);
  const objectId = str(payload.oid);
  if (objectId === undefined) {
    throw new TokenFormatError("the access token has no oid claim; is it an Entra app-only access token?");
  }
  const expiresAt = typeof payload.exp === "number" ? payload.exp * 1000 : fallbackExpiresAt;
  if (expiresAt === undefined || !Number.isFinite(expiresAt)) {
    throw new TokenFormatError("the access token has no exp claim and the credential gave no expiry");
  }
  const roles = payload.roles ?? [];
  if (!Array.isArray(roles)) {
    throw new TokenFormatError(`the access token's roles claim is a ${typeof roles}, expected an array`);
  }
  return {
    objectId,
    appId: str(payload.appid) ?? str(payload.azp),
    audience: Array.isArray(payload.aud) ? str(payload.aud[0]) : str(payload.aud),
    roles: roles.filter((r: unknown): r is string => typeof r === "string"),
    expiresAt,
    version: str(payload.ver),
    tenantId: str(payload.tid),
  };
}
