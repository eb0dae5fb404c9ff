import { createRemoteJWKSet, decodeJwt, errors as joseErrors, jwtVerify, type JWTPayload } from "jose";

export type TokenVersion = "1.0" | "2.0";

export interface VerifiedToken {
  readonly claims: JWTPayload & {
    oid: string;
    tid: string;
    roles: string[];
    ver: TokenVersion;
    /** v1: the calling app's client id. */
    appid?: string;
    /** v2: the calling app's client id. */
    azp?: string;
  };
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

/**
 * Why a token was not accepted. `invalid_token`: the token itself is wrong (answer 401). `issuer_unavailable`: its
 * issuer's metadata or keys could not be fetched, so nothing is known about the token yet (answer 503: the caller
 * should retry, not get a new token).
 */
export type TokenValidationCode = "invalid_token" | "issuer_unavailable";

/** The token is not acceptable; `description` says why (never the token) for WWW-Authenticate. */
export class TokenValidationError extends Error {
  override name = "TokenValidationError";
  readonly code: TokenValidationCode;
  readonly description: string;
  constructor(description: string, options?: ErrorOptions & { code?: TokenValidationCode }) {
    super(description, options);
    this.code = options?.code ?? "invalid_token";
    this.description = description;
  }
}

/** Most of any claim value we echo into a description: claims are the caller's input. */
const ECHO_LIMIT = 120;

/** A claim value for an error description: JSON-quoted, cut short. */
function echo(value: unknown): string {
  const text = JSON.stringify(value) ?? "undefined";
  return text.length > ECHO_LIMIT ? `${text.slice(0, ECHO_LIMIT)}…` : text;
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
          `the token's ver claim must be 1.0 or 2.0, got ${echo(unverified.ver)}`,
        );
      }
      let meta: Metadata;
      try {
        meta = await load(version);
      } catch (error) {
        throw new TokenValidationError(`cannot check the token: ${(error as Error).message}`, {
          cause: error,
          code: "issuer_unavailable",
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
        if (isKeySetUnavailable(error)) {
          throw new TokenValidationError(
            `cannot check the token: the issuer's signing keys are unavailable (${(error as Error).message})`,
            { cause: error, code: "issuer_unavailable" },
          );
        }
        throw new TokenValidationError(describeJoseError(error, unverified, options.audiences, meta.issuer), {
          cause: error,
        });
      }
      // The v2 issuer names the tenant, the v1 one too, but tid is what Microsoft tells APIs to check.
      if (payload.tid !== options.tenantId) {
        throw new TokenValidationError(
          `the token was issued for tenant ${echo(payload.tid)}, not ${options.tenantId}`,
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
      const appIdClaim = version === "1.0" ? "appid" : "azp";
      const callerAppId = payload[appIdClaim];
      if (typeof callerAppId !== "string" || callerAppId === "") {
        throw new TokenValidationError(`the v${version} token has no ${appIdClaim} claim (the calling app)`);
      }
      return {
        claims: { ...payload, oid: payload.oid, tid: String(payload.tid), roles, ver: version },
        version,
        callerAppId,
      };
    },
  };
}

/** jose's remote key set failing to fetch (network, timeout, non-200, bad JSON), as opposed to a bad token. */
function isKeySetUnavailable(error: unknown): boolean {
  if (error instanceof joseErrors.JWKSTimeout) return true;
  if (error instanceof joseErrors.JOSEError) {
    return error.code === "ERR_JOSE_GENERIC" && error.message.includes("JSON Web Key Set");
  }
  // jwtVerify's own failures are all JOSEErrors; anything else came from fetch.
  return error instanceof Error;
}

function describeJoseError(
  error: unknown,
  unverified: JWTPayload,
  audiences: readonly string[],
  issuer: string,
): string {
  if (error instanceof joseErrors.JWTExpired) return `the token expired at ${isoTime(unverified.exp)}`;
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === "aud")
      return `audience ${echo(unverified.aud)} is not accepted; expected one of ${audiences.join(", ")}`;
    if (error.claim === "iss") return `issuer ${echo(unverified.iss)} is not accepted; expected ${issuer}`;
    if (error.claim === "nbf") return `the token is not valid before ${isoTime(unverified.nbf)}`;
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

function isoTime(seconds: unknown): string {
  const date = new Date(Number(seconds) * 1000);
  return Number.isNaN(date.getTime()) ? echo(seconds) : date.toISOString();
}
