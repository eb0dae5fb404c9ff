import type { TokenCredential } from "@azure/identity";

import { MissingAppRoleError, TokenAcquisitionError } from "./errors.ts";
import { readTokenClaims, type TokenClaims } from "./token-claims.ts";

export interface ApiRef {
  readonly name: string;
  /** One scope, e.g. `api://<appId>/.default`. */
  readonly scope: string;
}

export interface RoleToken {
  readonly token: string;
  readonly claims: TokenClaims;
  /** Served from our cache without waiting on the credential. */
  readonly fromCache: boolean;
}

export interface RoleTokenProvider {
  /**
   * A token for `api` that carries every role in `requiredRoles`. Throws MissingAppRoleError when it does not,
   * TokenAcquisitionError when no token came in time.
   */
  getToken(
    api: ApiRef,
    requiredRoles: readonly string[],
    options?: { forceRefresh?: boolean; signal?: AbortSignal },
  ): Promise<RoleToken>;
}

/** Our cache keeps a token until this long before it expires (MSAL's own refresh margin is the same). */
const REFRESH_MARGIN_MS = 5 * 60_000;

/**
 * Role-scoped tokens for the APIs handlers call. Adds what @azure/identity lacks: one in-flight request per scope
 * however many callers wait (the SDK sends one HTTP request per concurrent call), a time limit (a hanging identity
 * endpoint makes the SDK wait forever and ignores abort signals), and a check of the token's roles that fails with
 * guidance instead of a bare 403 deep in production.
 *
 * `forceRefresh` skips our cache only: ManagedIdentityCredential keeps its own process-wide cache and has no way
 * to bypass it, so after a role change the same token may come back until it nears expiry.
 */
export function createRoleTokenProvider(options: {
  credential: TokenCredential;
  timeoutMs?: number;
  now?: () => number;
}): RoleTokenProvider {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const now = options.now ?? Date.now;
  const cache = new Map<string, { token: string; claims: TokenClaims }>();
  const inFlight = new Map<string, Promise<{ token: string; claims: TokenClaims }>>();

  const fetchToken = (api: ApiRef) => {
    const running = inFlight.get(api.scope);
    if (running) return running;
    const started = now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new TokenAcquisitionError(
              `no token for API "${api.name}" (scope ${api.scope}) within ${timeoutMs} ms: the identity endpoint did not answer`,
            ),
          ),
        timeoutMs,
      );
    });
    const request = (async () => {
      let accessToken;
      try {
        accessToken = await Promise.race([options.credential.getToken(api.scope), timeout]);
      } catch (error) {
        if (error instanceof TokenAcquisitionError) throw error;
        throw new TokenAcquisitionError(
          `no token for API "${api.name}" (scope ${api.scope}) after ${now() - started} ms: ${(error as Error).message}`,
          { cause: error },
        );
      }
      if (!accessToken)
        throw new TokenAcquisitionError(`the credential returned no token for API "${api.name}"`);
      const entry = {
        token: accessToken.token,
        claims: readTokenClaims(accessToken.token, accessToken.expiresOnTimestamp),
      };
      cache.set(api.scope, entry);
      return entry;
    })().finally(() => {
      clearTimeout(timer);
      inFlight.delete(api.scope);
    });
    inFlight.set(api.scope, request);
    return request;
  };

  return {
    async getToken(api, requiredRoles, callOptions = {}) {
      const cached = cache.get(api.scope);
      const fresh = cached && cached.claims.expiresAt - REFRESH_MARGIN_MS > now();
      let entry: { token: string; claims: TokenClaims };
      let fromCache = false;
      if (fresh && !callOptions.forceRefresh) {
        entry = cached;
        fromCache = true;
      } else {
        if (callOptions.forceRefresh) cache.delete(api.scope);
        entry = await abortable(fetchToken(api), callOptions.signal);
      }
      const missing = requiredRoles.filter((role) => !entry.claims.roles.includes(role));
      if (missing.length > 0) {
        throw new MissingAppRoleError({
          api: api.name,
          scope: api.scope,
          missingRoles: missing,
          grantedRoles: entry.claims.roles,
          objectId: entry.claims.objectId,
          appId: entry.claims.appId,
        });
      }
      return { token: entry.token, claims: entry.claims, fromCache };
    },
  };
}

/** Stops this caller's wait when its signal aborts; the shared request goes on for the others. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error as Error);
      },
    );
  });
}
