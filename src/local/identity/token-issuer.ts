import { randomBytes } from "node:crypto";

import { SignJWT, type JWTPayload } from "jose";

import type { Application, ManagedIdentity, Tenant } from "../tenant/index.ts";
import type { SigningKeys } from "./signing-keys.ts";

export type TokenVersion = "1.0" | "2.0";

/** The `iss` of a token of `version`, shaped like Entra's (`…/{tid}/` for v1, `…/{tid}/v2.0` for v2). */
export function issuerUrl(authority: string, tenantId: string, version: TokenVersion): string {
  return version === "1.0" ? `${authority}/${tenantId}/` : `${authority}/${tenantId}/v2.0`;
}

/** The token request names a resource the tenant does not know (Entra's AADSTS500011). */
export class UnknownResourceError extends Error {
  override name = "UnknownResourceError";
  constructor(resource: string, tenantId: string) {
    super(
      `AADSTS500011: The resource principal named ${resource} was not found in the tenant named ${tenantId}. ` +
        `Check the resource (scope without /.default) against the API's identifier URIs or appId.`,
    );
  }
}

export interface IssuedToken {
  readonly accessToken: string;
  /** Epoch seconds. */
  readonly expiresOn: number;
  readonly application: Application;
  readonly version: TokenVersion;
}

/**
 * Mints app-only access tokens for managed identities the way Entra does: the *target API's*
 * accessTokenAcceptedVersion picks v1 or v2 claims, roles come from the tenant's current assignments.
 */
export class TokenIssuer {
  readonly #tenant: Tenant;
  readonly #keys: SigningKeys;
  readonly #authority: () => string;

  /** `authority` is a function because the listening port is known only after the server starts. */
  constructor(tenant: Tenant, keys: SigningKeys, authority: () => string) {
    this.#tenant = tenant;
    this.#keys = keys;
    this.#authority = authority;
  }

  get authority(): string {
    return this.#authority();
  }

  async issueFor(identity: ManagedIdentity, resource: string): Promise<IssuedToken> {
    const tenant = this.#tenant;
    const application = tenant.findApplicationByResource(resource);
    if (!application) throw new UnknownResourceError(resource, tenant.tenantId);
    const version: TokenVersion = application.accessTokenAcceptedVersion === 2 ? "2.0" : "1.0";
    const now = Math.floor(Date.now() / 1000);
    const expiresOn = now + tenant.tokenLifetimeSeconds;
    const roles = tenant.rolesOf(identity.objectId, application);
    const caller =
      version === "1.0"
        ? { appid: identity.clientId, appidacr: "2" }
        : { azp: identity.clientId, azpacr: "2" };
    const claims: JWTPayload = {
      // v1: the resource exactly as requested (URI or GUID); v2: always the API's appId.
      aud: version === "1.0" ? resource : application.appId,
      iss: issuerUrl(this.authority, tenant.tenantId, version),
      iat: now,
      nbf: now - 5 * 60,
      exp: expiresOn,
      ...caller,
      ...(application.optionalClaims.includes("idtyp") ? { idtyp: "app" } : {}),
      oid: identity.objectId,
      sub: identity.objectId,
      ...(roles.length > 0 ? { roles } : {}),
      tid: tenant.tenantId,
      uti: randomBytes(16).toString("base64url"),
      ver: version,
      ...(identity.resourceId ? { xms_mirid: identity.resourceId } : {}),
    };
    return { accessToken: await this.sign(claims), expiresOn, application, version };
  }

  /** Signs arbitrary claims with the current key. For tests that need tokens Entra would never issue. */
  async sign(claims: JWTPayload, header: { kid?: string } = {}): Promise<string> {
    const key = this.#keys.current;
    return new SignJWT(claims)
      .setProtectedHeader({ typ: "JWT", alg: "RS256", kid: header.kid ?? key.kid })
      .sign(key.privateKey);
  }
}
