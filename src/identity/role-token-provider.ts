import { performance } from "node:perf_hooks";

import type { AccessToken, TokenCredential } from "@azure/identity";

import { abortable } from "../shared/abortable.ts";
import { redactSecrets } from "../shared/redact.ts";
import { TimeLimitError, withinTime } from "../shared/time-limit.ts";
import { MissingAppRoleError, TokenAcquisitionError } from "./errors.ts";
import { readTokenClaims, type TokenClaims } from "./token-claims.ts";

export interface ApiRef {
  /** The API's name in the worker's config, e.g. "orders"; used in messages. */
  readonly name: string;
  /** Exactly one scope, e.g. `api://<appId>/.default`; the cache and single-flight key. */
  readonly scope: string;
}

export interface RoleToken {
  readonly token: string;
  readonly claims: TokenClaims;
  /** Served from our cache, without waiting on an in-flight or new credential call (telemetry: cache hit). */
  readonly fromCache: boolean;
}

/** What the provider knows about one API, safe to log: ids, roles and times, never the token. */
export interface ApiTokenState {
  readonly api: string;
  readonly scope: string;
  readonly cached:
    | {
        readonly objectId: string;
        readonly appId: string | undefined;
        readonly roles: readonly string[];
        /** ISO time the token expires. */
        readonly expiresAt: string;
        /** ISO time after which we ask the credential again (5 minutes before expiry). */
        readonly refreshAt: string;
      }
    | undefined;
  readonly inFlight: boolean;
  /** Credential calls we stopped waiting for on timeout that have not settled; each may hold a socket open. */
  readonly abandonedCalls: number;
}

export interface RoleTokenProvider {
  /**
   * A token for `api` that carries every role in `requiredRoles`.
   * @throws MissingAppRoleError when the token lacks one (not retryable).
   * @throws TokenAcquisitionError when no token came within the timeout or the credential failed (retryable).
   * @throws the signal's reason when `signal` aborts this caller's wait (the shared call goes on for the others).
   *
   * `forceRefresh` (after a 401) skips our cache and asks the credential again. It cannot skip the SDK's own cache:
   * ManagedIdentityCredential keeps a process-wide MSAL cache with no bypass and hands back the same token until
   * ~5 minutes before it expires (and Azure's endpoint caches per resource for ~24 h besides), so a fresh call
   * does not promise a new token. `fromCache` is false for it all the same: we did wait on the credential.
   */
  getToken(
    api: ApiRef,
    requiredRoles: readonly string[],
    options?: { forceRefresh?: boolean; signal?: AbortSignal },
  ): Promise<RoleToken>;
  /** The cached claims and in-flight state for `api`, for logs and health output. */
  describe(api: ApiRef): ApiTokenState;
}

/** Our cache serves a token until this long before it expires (MSAL's own refresh window is the same). */
export const REFRESH_MARGIN_MS = 5 * 60_000;

interface Entry {
  readonly token: string;
  readonly claims: TokenClaims;
}

/**
 * Role-scoped tokens for the APIs handlers call. Adds what @azure/identity 4.14 lacks:
 * - one credential call per scope however many callers wait (the SDK sends one HTTP request per concurrent call);
 * - a time limit (on a hanging identity endpoint the SDK waits forever and ignores its abortSignal);
 * - the token's roles checked against the caller's needs, failing with guidance instead of a bare 403 later;
 * - the claims, decoded once per token, and a cheap cached path.
 *
 * `now` is the clock for cache freshness (tests); elapsed times in errors use the monotonic clock.
 */
export function createRoleTokenProvider(options: {
  credential: TokenCredential;
  timeoutMs?: number;
  now?: () => number;
}): RoleTokenProvider {
  const { credential } = options;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const now = options.now ?? Date.now;
  const cache = new Map<string, Entry>();
  const inFlight = new Map<string, Promise<Entry>>();
  const abandoned = new Map<string, number>();

  const fresh = (entry: Entry | undefined): entry is Entry =>
    entry !== undefined && entry.claims.expiresAt - REFRESH_MARGIN_MS > now();

  /** Starts (or joins) the one credential call for `api.scope`; errors name the API of the caller that started it. */
  const fetchEntry = (api: ApiRef): Promise<Entry> => {
    const running = inFlight.get(api.scope);
    if (running) return running;
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    // Passed on for credentials that honour it; ManagedIdentityCredential 4.14.1 does not, hence the time limit below.
    const abort = new AbortController();
    const call = (async () => credential.getToken(api.scope, { abortSignal: abort.signal }))();
    const request = (async () => {
      let accessToken: AccessToken | null;
      try {
        accessToken = await withinTime(call, timeoutMs, "the token request");
      } catch (error) {
        if (error instanceof TimeLimitError) {
          abort.abort();
          // The call is still pending: count it until it lets go.
          abandoned.set(api.scope, (abandoned.get(api.scope) ?? 0) + 1);
          const release = () => abandoned.set(api.scope, (abandoned.get(api.scope) ?? 1) - 1);
          call.then(release, release);
          throw new TokenAcquisitionError({
            api: api.name,
            scope: api.scope,
            elapsedMs: elapsed(),
            timedOut: true,
            reason: `the credential did not answer within ${timeoutMs} ms (is the identity endpoint hanging? the SDK has no timeout of its own)`,
          });
        }
        throw new TokenAcquisitionError(
          {
            api: api.name,
            scope: api.scope,
            elapsedMs: elapsed(),
            timedOut: false,
            reason: redactSecrets((error as Error)?.message ?? String(error)),
          },
          { cause: error },
        );
      }
      if (!accessToken?.token) {
        throw new TokenAcquisitionError({
          api: api.name,
          scope: api.scope,
          elapsedMs: elapsed(),
          timedOut: false,
          reason: "the credential returned no token",
        });
      }
      let claims: TokenClaims;
      try {
        claims = readTokenClaims(accessToken.token, accessToken.expiresOnTimestamp);
      } catch (error) {
        throw new TokenAcquisitionError(
          {
            api: api.name,
            scope: api.scope,
            elapsedMs: elapsed(),
            timedOut: false,
            reason: `the credential's token is unusable: ${(error as Error).message}`,
          },
          { cause: error },
        );
      }
      const entry = { token: accessToken.token, claims };
      cache.set(api.scope, entry);
      return entry;
    })().finally(() => {
      inFlight.delete(api.scope);
    });
    inFlight.set(api.scope, request);
    return request;
  };

  const getToken: RoleTokenProvider["getToken"] = async (api, requiredRoles, callOptions = {}) => {
    const cached = cache.get(api.scope);
    let entry: Entry;
    let fromCache = false;
    if (!callOptions.forceRefresh && fresh(cached)) {
      entry = cached;
      fromCache = true;
    } else {
      if (callOptions.forceRefresh) cache.delete(api.scope);
      entry = await abortable(fetchEntry(api), callOptions.signal);
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
  };

  return {
    getToken,

    describe(api) {
      const entry = cache.get(api.scope);
      return {
        api: api.name,
        scope: api.scope,
        cached: entry && {
          objectId: entry.claims.objectId,
          appId: entry.claims.appId,
          roles: entry.claims.roles,
          expiresAt: new Date(entry.claims.expiresAt).toISOString(),
          refreshAt: new Date(entry.claims.expiresAt - REFRESH_MARGIN_MS).toISOString(),
        },
        inFlight: inFlight.has(api.scope),
        abandonedCalls: abandoned.get(api.scope) ?? 0,
      };
    },
  };
}
