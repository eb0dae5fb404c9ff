import { context as otelContext, propagation } from "@opentelemetry/api";

import type { RoleTokenProvider } from "../identity/index.ts";

import { ATTR } from "../telemetry/attributes.ts";
import { workerMetrics } from "../telemetry/metrics.ts";
import { SpanKind, withSpan } from "../telemetry/span.ts";
import { parseRetryAfter } from "./backoff.ts";
import type { ApiConfig } from "./config.ts";
import { ApiRejectedError, PermanentError, TransientError } from "./errors.ts";
import { linkedAbort } from "../shared/linked-abort.ts";
import { excerpt } from "../shared/redact.ts";

/** What the API client needs from the identity layer: a token for one API carrying the handler's roles. */
export type RoleTokenSource = Pick<RoleTokenProvider, "getToken">;

export interface ApiResponse {
  readonly status: number;
  readonly headers: Headers;
  /** Parsed JSON when the API said it was JSON, the text otherwise, undefined when empty. */
  readonly body: unknown;
}

export interface ApiRequestOptions {
  json?: unknown;
  headers?: Record<string, string>;
  query?: Record<string, string>;
  /** Default: the message id, so a redelivered message cannot apply twice. */
  idempotencyKey?: string;
}

/** A client for one named API. Paths are relative to its base URL; it cannot reach another origin. */
export interface ApiClient {
  readonly name: string;
  request(method: string, path: string, options?: ApiRequestOptions): Promise<ApiResponse>;
  get(path: string, options?: ApiRequestOptions): Promise<ApiResponse>;
  post(path: string, json?: unknown, options?: ApiRequestOptions): Promise<ApiResponse>;
  put(path: string, json?: unknown, options?: ApiRequestOptions): Promise<ApiResponse>;
  delete(path: string, options?: ApiRequestOptions): Promise<ApiResponse>;
}

export interface ApiClientOptions {
  api: ApiConfig;
  roles: readonly string[];
  tokens: RoleTokenSource;
  idempotencyKey: string;
  signal: AbortSignal;
  timeoutMs: number;
  fetch?: typeof fetch;
}

const TRANSIENT_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504]);

// A client is made for every attempt at every message: each API's base URL is parsed once, not each time.
const parsedBases = new WeakMap<ApiConfig, URL>();
function baseOf(api: ApiConfig): URL {
  let base = parsedBases.get(api);
  if (!base) parsedBases.set(api, (base = new URL(api.baseUrl)));
  return base;
}

export function createApiClient(options: ApiClientOptions): ApiClient {
  const { api, tokens } = options;
  const doFetch = options.fetch ?? fetch;

  const resolve = (path: string, query?: Record<string, string>) => {
    const base = baseOf(api);
    const url = new URL(path.replace(/^\/+/, ""), base);
    if (url.origin !== base.origin || !url.pathname.startsWith(base.pathname)) {
      throw new TypeError(
        `API "${api.name}" client refuses ${url.origin}${url.pathname}: outside ${api.baseUrl}`,
      );
    }
    for (const [k, v] of Object.entries(query ?? {})) url.searchParams.set(k, v);
    return url;
  };

  /** One request and its body, within `timeoutMs` (the timer and listener go when it ends). */
  const send = async (
    method: string,
    url: URL,
    token: string,
    o: ApiRequestOptions,
  ): Promise<{ response: Response; body: unknown }> => {
    const headers: Record<string, string> = {
      accept: "application/json",
      ...o.headers,
      authorization: `Bearer ${token}`,
    };
    if (method !== "GET" && method !== "HEAD")
      headers["idempotency-key"] = o.idempotencyKey ?? options.idempotencyKey;
    if (o.json !== undefined) headers["content-type"] = "application/json";
    propagation.inject(otelContext.active(), headers);
    const linked = linkedAbort([options.signal], { ms: options.timeoutMs, what: `API "${api.name}"` });
    try {
      const response = await doFetch(url, {
        method,
        headers,
        body: o.json === undefined ? undefined : JSON.stringify(o.json),
        signal: linked.signal,
      });
      return { response, body: await readBody(response) };
    } catch (error) {
      // The handler's own signal (timeout, lock loss, shutdown) says why; keep that reason.
      if (options.signal.aborted) throw options.signal.reason;
      const timedOut = (error as Error).name === "TimeoutError";
      throw new TransientError(
        `API "${api.name}" ${method} ${url.pathname}: ${timedOut ? `no answer within ${options.timeoutMs} ms` : `network error: ${(error as Error).message}`}`,
        { cause: error },
      );
    } finally {
      linked.dispose();
    }
  };

  // A child span per token acquisition: API, scope and cache hit, never the token.
  const acquireToken = (forceRefresh: boolean) =>
    withSpan(
      `token ${api.name}`,
      {
        attributes: () => ({ [ATTR.KEYLESS_API]: api.name, [ATTR.KEYLESS_SCOPE]: api.scope }),
        isExpectedError: (e) => e instanceof PermanentError,
      },
      async (span) => {
        const result = await tokens.getToken(api, options.roles, { forceRefresh, signal: options.signal });
        const cacheHit = result.fromCache === true;
        span.setAttribute(ATTR.KEYLESS_TOKEN_CACHE_HIT, cacheHit);
        workerMetrics
          .tokenAcquisitions()
          .add(1, { [ATTR.KEYLESS_API]: api.name, [ATTR.KEYLESS_TOKEN_CACHE_HIT]: cacheHit });
        return result.token;
      },
    );

  const readBody = async (response: Response): Promise<unknown> => {
    const text = await response.text();
    if (text === "") return undefined;
    if ((response.headers.get("content-type") ?? "").includes("json")) {
      try {
        return JSON.parse(text);
      } catch {
        return text;
      }
    }
    return text;
  };

  const request = (method: string, path: string, o: ApiRequestOptions = {}): Promise<ApiResponse> => {
    const upper = method.toUpperCase();
    const url = resolve(path, o.query);
    return withSpan(
      `${upper}`,
      {
        kind: SpanKind.CLIENT,
        attributes: () => ({
          [ATTR.HTTP_METHOD]: upper,
          // origin + path only: query strings may carry secrets.
          [ATTR.URL_FULL]: `${url.origin}${url.pathname}`,
          [ATTR.SERVER_ADDRESS]: url.hostname,
          [ATTR.KEYLESS_API]: api.name,
        }),
        isExpectedError: (e) => e instanceof PermanentError,
      },
      async (span) => {
        let token = await acquireToken(false);
        const sentAt = Date.now();
        let { response, body } = await send(upper, url, token, o);
        if (response.status === 401) {
          // A rotated key or a revoked token: one fresh token, one more try.
          span.addEvent("token_refresh_after_401");
          ({ token } = await tokens.getToken(api, options.roles, {
            forceRefresh: true,
            signal: options.signal,
          }));
          ({ response, body } = await send(upper, url, token, o));
        }
        span.setAttribute(ATTR.HTTP_STATUS, response.status);
        workerMetrics.apiCallDuration().record(Date.now() - sentAt, {
          [ATTR.KEYLESS_API]: api.name,
          [ATTR.HTTP_METHOD]: upper,
          [ATTR.HTTP_STATUS]: response.status,
        });
        if (response.ok) return { status: response.status, headers: response.headers, body };
        const what = `${upper} ${url.pathname}`;
        const text = excerpt(typeof body === "string" ? body : JSON.stringify(body ?? ""));
        if (TRANSIENT_STATUSES.has(response.status)) {
          throw new TransientError(
            `API "${api.name}" answered ${what} with HTTP ${response.status}: ${text}`,
            {
              status: response.status,
              retryAfterMs: parseRetryAfter(response.headers.get("retry-after")),
            },
          );
        }
        if (response.status === 403) {
          throw new PermanentError(
            "MissingAppRole",
            `API "${api.name}" refused ${what} with HTTP 403 although the token carries the roles this handler declares (${options.roles.join(", ")}). ` +
              `The API may require another role: ${text}`,
          );
        }
        if (response.status === 401) {
          const challenge = excerpt(response.headers.get("www-authenticate") ?? "", 200);
          throw new ApiRejectedError(
            api.name,
            upper,
            url.pathname,
            401,
            `a fresh token was refused too (${challenge || text}); check API_${api.name.toUpperCase()}_SCOPE and the API's audience and issuer settings`,
          );
        }
        throw new ApiRejectedError(api.name, upper, url.pathname, response.status, text);
      },
    );
  };

  return {
    name: api.name,
    request,
    get: (path, o) => request("GET", path, o),
    post: (path, json, o) => request("POST", path, { ...o, json }),
    put: (path, json, o) => request("PUT", path, { ...o, json }),
    delete: (path, o) => request("DELETE", path, o),
  };
}
