import { decodeJwt } from "jose";

/** What the worker reads from an access token it was given (it does not verify it: the API does). */
export interface TokenClaims {
  /** The identity's service-principal object id (`oid`). */
  readonly objectId: string;
  /** The calling app's client id (`appid` in v1, `azp` in v2). */
  readonly appId: string | undefined;
  readonly audience: string | undefined;
  readonly roles: readonly string[];
  /** Epoch milliseconds. */
  readonly expiresAt: number;
  readonly version: string | undefined;
  readonly tenantId: string | undefined;
}

/** Thrown when a credential hands back something that is not a JWT; never carries the token itself. */
export class TokenFormatError extends Error {
  override name = "TokenFormatError";
}

export function readTokenClaims(token: string, fallbackExpiresAt?: number): TokenClaims {
  let payload: Record<string, unknown>;
  try {
    payload = decodeJwt(token);
  } catch (error) {
    throw new TokenFormatError(`the access token is not a readable JWT (${(error as Error).message})`);
  }
  const exp = typeof payload.exp === "number" ? payload.exp * 1000 : fallbackExpiresAt;
  if (typeof payload.oid !== "string" || exp === undefined) {
    throw new TokenFormatError("the access token has no oid or exp claim; is it an Entra access token?");
  }
  const str = (v: unknown) => (typeof v === "string" ? v : undefined);
  return {
    objectId: payload.oid,
    appId: str(payload.appid) ?? str(payload.azp),
    audience: Array.isArray(payload.aud) ? str(payload.aud[0]) : str(payload.aud),
    roles: Array.isArray(payload.roles)
      ? payload.roles.filter((r): r is string => typeof r === "string")
      : [],
    expiresAt: exp,
    version: str(payload.ver),
    tenantId: str(payload.tid),
  };
}
