import { createRemoteJWKSet, decodeJwt, errors as joseErrors, jwtVerify, type JWTPayload } from "jose";

export type TokenVersion = "1.0" | "2.0";

export interface VerifiedToken {
  readonly claims: JWTPayload & { oid: string; tid: string; roles: string[]; ver: TokenVersion };
  readonly version: TokenVersion;
  /** The calling application's client id: `appid` (v1) or `azp` (v2). */
  readonly callerAppId: string;
}

export interface EntraTokenValidatorOptions {
  /** Default https://login.microsoftonline.com; the local platform's authority when testing. */
  authority?: string;
  tenantId: string;
  /** Accepted `aud` values: the API's App ID URIs and its appId (v1 tokens carry whichever the caller asked for). */
  audiences: readonly string[];
  /** Allowed clock skew for exp/nbf. Default 60 s. */
  clockToleranceSeconds?: number;
  /** Refuse delegated (user) tokens: require app-only tokens. Default true. */
  requireAppOnly?: boolean;
}

/** The token is not acceptable; `description` says why (never the token) for WWW-Authenticate. */
export class TokenValidationError extends Error {
  override name = "TokenValidationError";
  readonly code = "invalid_token";
  readonly description: string;
  constructor(description: string, options?: ErrorOptions) {
    super(description, options);
    this.description = description;
  }
}

interface Metadata {
  issuer: string;
  jwks: ReturnType<typeof createRemoteJWKSet>;
}

/**
 * Validates Entra access tokens the way Microsoft says an API must: RS256 only, signature from the JWKS of the
 * token's own version (v1 and v2 have different issuers and metadata), `iss` exactly the metadata's, `aud` one of
 * ours, `exp`/`nbf` with a small skew, `tid` ours, and app-only when required. Framework-free; the fastify plugin
 * and the local broker both use it.
 */
export function createEntraTokenValidator(options: EntraTokenValidatorOptions): {
  verify(token: string): Promise<VerifiedToken>;
} {
  const authority = (options.authority ?? "https://login.microsoftonline.com").replace(/\/+$/, "");
  const metadata = new Map<TokenVersion, Promise<Metadata>>();

  const load = (version: TokenVersion) => {
    let cached = metadata.get(version);
    if (!cached) {
      const url = `${authority}/${options.tenantId}${version === "2.0" ? "/v2.0" : ""}/.well-known/openid-configuration`;
      cached = (async () => {
        const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
        if (!response.ok) throw new Error(`OIDC metadata ${url} answered HTTP ${response.status}`);
        const doc = (await response.json()) as { issuer?: string; jwks_uri?: string };
        if (!doc.issuer || !doc.jwks_uri) throw new Error(`OIDC metadata ${url} lacks issuer or jwks_uri`);
        // jose refetches the key set when a token names a kid it has not seen: key rotation just works.
        return {
          issuer: doc.issuer,
          jwks: createRemoteJWKSet(new URL(doc.jwks_uri), { cooldownDuration: 1_000 }),
        };
      })();
      // A failed metadata fetch is not cached: the next request tries again.
      cached.catch(() => metadata.delete(version));
      metadata.set(version, cached);
    }
    return cached;
  };

  return {
    async verify(token) {
      let unverified: JWTPayload;
      try {
        unverified = decodeJwt(token);
      } catch {
        throw new TokenValidationError("the bearer token is not a JWT");
      }
      const version = unverified.ver === "1.0" || unverified.ver === "2.0" ? unverified.ver : undefined;
      if (!version) {
        throw new TokenValidationError(
          `the token's ver claim must be 1.0 or 2.0, got ${JSON.stringify(unverified.ver)}`,
        );
      }
      let meta: Metadata;
      try {
        meta = await load(version);
      } catch (error) {
        throw new TokenValidationError(`cannot check the token: ${(error as Error).message}`, {
          cause: error,
        });
      }
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, meta.jwks, {
          algorithms: ["RS256"],
          issuer: meta.issuer,
          audience: [...options.audiences],
          clockTolerance: options.clockToleranceSeconds ?? 60,
        }));
      } catch (error) {
        throw new TokenValidationError(describeJoseError(error, unverified, options.audiences, meta.issuer), {
          cause: error,
        });
      }
      if (payload.tid !== options.tenantId) {
        throw new TokenValidationError(
          `the token was issued for tenant ${String(payload.tid)}, not ${options.tenantId}`,
        );
      }
      if (typeof payload.oid !== "string") throw new TokenValidationError("the token has no oid claim");
      const roles = Array.isArray(payload.roles)
        ? payload.roles.filter((r): r is string => typeof r === "string")
        : [];
      if (
        (options.requireAppOnly ?? true) &&
        (payload.scp !== undefined || (payload.idtyp !== undefined && payload.idtyp !== "app"))
      ) {
        throw new TokenValidationError(
          "a delegated (user) token was presented; this API accepts app-only tokens",
        );
      }
      const callerAppId = String(version === "1.0" ? payload.appid : payload.azp);
      return {
        claims: { ...payload, oid: payload.oid, tid: String(payload.tid), roles, ver: version },
        version,
        callerAppId,
      };
    },
  };
}

function describeJoseError(
  error: unknown,
  unverified: JWTPayload,
  audiences: readonly string[],
  issuer: string,
): string {
  if (error instanceof joseErrors.JWTExpired)
    return `the token expired at ${new Date(Number(unverified.exp) * 1000).toISOString()}`;
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === "aud")
      return `audience ${JSON.stringify(unverified.aud)} is not accepted; expected one of ${audiences.join(", ")}`;
    if (error.claim === "iss")
      return `issuer ${JSON.stringify(unverified.iss)} is not accepted; expected ${issuer}`;
    if (error.claim === "nbf")
      return `the token is not valid before ${new Date(Number(unverified.nbf) * 1000).toISOString()}`;
    return `claim ${error.claim} is not acceptable: ${error.reason}`;
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed)
    return "the token's algorithm is not allowed; only RS256 is accepted";
  if (error instanceof joseErrors.JWKSNoMatchingKey)
    return "the token was not signed by a key of this tenant's issuer";
  if (error instanceof joseErrors.JWSSignatureVerificationFailed)
    return "the token's signature does not verify";
  if (error instanceof joseErrors.JOSEError) return `the token is not valid: ${error.code}`;
  return `the token could not be checked: ${(error as Error).message}`;
}
