/**
 * Runs one handler the way the worker would — body validated by its schema, an API client with a role-scoped
 * token, the outcome decided by the outcome policy — against a recorded API instead of a network, so a handler's own
 * test needs no broker, no identity endpoint and no API: `const { outcome, calls } = await runHandler(h, { body })`.
 */
import pino from "pino";

import { MissingAppRoleError } from "../identity/index.ts";
import { createApiClient } from "./api-client.ts";
import type { ApiConfig } from "./config.ts";
import { messageInfo, parseBody } from "./delivery.ts";
import type { Handler, MessageInfo } from "./handler.ts";
import { attemptsUsedUp, classifyFailure, complete, deadLetter, type Outcome } from "./outcome.ts";

/** One request the handler made, as the API would have seen it (the token is never recorded). */
export interface RecordedCall {
  readonly method: string;
  /** Path and query under the API's base URL, e.g. "orders/A-1/fulfilment". */
  readonly path: string;
  readonly json: unknown;
  readonly headers: Readonly<Record<string, string>>;
}

/** What the recorded API answers; default 200 with `{}`. */
export interface RecordedAnswer {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface RunHandlerOptions {
  /** The message body as a producer would send it (validated by the handler's schema). */
  readonly body: unknown;
  /** Message facts the handler sees; sensible defaults (message id "test-message", delivery 0). */
  readonly message?: Partial<Omit<MessageInfo, "subject">>;
  /** Answers each API call; called in order, so it can fail the first and pass the second. */
  readonly respond?: (call: RecordedCall) => RecordedAnswer | Promise<RecordedAnswer>;
  /** Roles the token carries; default exactly the handler's. */
  readonly grantedRoles?: readonly string[];
  /** Runs it as a message of this session (ctx.session), whose state starts as `state`. */
  readonly session?: { readonly id: string; readonly state?: unknown };
}

const BASE_URL = "https://api.test.invalid/";

export async function runHandler(
  handler: Handler,
  options: RunHandlerOptions,
): Promise<{ outcome: Outcome; calls: readonly RecordedCall[]; sessionState?: unknown }> {
  const calls: RecordedCall[] = [];
  // The session's state as Service Bus would keep it: JSON in, JSON out.
  let state = options.session?.state === undefined ? undefined : JSON.stringify(options.session.state);
  const session = options.session && {
    id: options.session.id,
    getState: async () => (state === undefined ? undefined : (JSON.parse(state) as unknown)),
    setState: async (next: unknown) => void (state = next === undefined ? undefined : JSON.stringify(next)),
  };
  const ended = (outcome: Outcome) => ({
    outcome,
    calls,
    ...(session ? { sessionState: state === undefined ? undefined : (JSON.parse(state) as unknown) } : {}),
  });
  const info = {
    ...messageInfo(
      { messageId: "test-message", deliveryCount: 0, subject: handler.subject, body: options.body },
      handler.subject,
      "test-entity",
    ),
    ...(session ? { sessionId: session.id } : {}),
    ...options.message,
  };
  const facts = { attempts: 1, deliveryCount: info.deliveryCount };
  let body: unknown;
  try {
    body = parseBody({ body: options.body }, handler);
  } catch (error) {
    return ended(decide(error, { ...facts, attempts: 0 }));
  }
  const api: ApiConfig = {
    name: handler.api.toLowerCase(),
    baseUrl: BASE_URL,
    scope: `api://${handler.api.toLowerCase()}/.default`,
    concurrency: undefined,
    rateLimit: undefined,
  };
  const roles = options.grantedRoles ?? handler.roles;
  const recordedFetch = async (input: URL | string | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const headers = Object.fromEntries(
      Object.entries((init?.headers ?? {}) as Record<string, string>).filter(([k]) => k !== "authorization"),
    );
    const call: RecordedCall = {
      method: init?.method ?? "GET",
      path: `${url.pathname.slice(1)}${url.search}`,
      json: typeof init?.body === "string" ? (JSON.parse(init.body) as unknown) : undefined,
      headers,
    };
    calls.push(call);
    const answer = (await options.respond?.(call)) ?? { status: 200, body: {} };
    return new Response(answer.body === undefined ? null : JSON.stringify(answer.body), {
      status: answer.status,
      headers: { "content-type": "application/json", ...answer.headers },
    });
  };
  const controller = new AbortController();
  try {
    await handler.handle({
      body,
      message: info,
      api: createApiClient({
        api,
        roles: handler.roles,
        tokens: {
          getToken: async (_api, required) => {
            const missing = required.filter((r) => !roles.includes(r));
            if (missing.length > 0) {
              throw new MissingAppRoleError({
                api: api.name,
                scope: api.scope,
                missingRoles: missing,
                grantedRoles: roles,
                objectId: "00000000-0000-0000-0000-000000000000",
                appId: undefined,
              });
            }
            return {
              token: "test-token",
              claims: {
                objectId: "00000000-0000-0000-0000-000000000000",
                appId: undefined,
                audience: api.scope.replace(/\/\.default$/, ""),
                roles,
                expiresAt: Date.now() + 3_600_000,
                version: "2.0",
                tenantId: "00000000-0000-0000-0000-000000000000",
              },
              fromCache: true,
            };
          },
        },
        idempotencyKey: info.messageId,
        signal: controller.signal,
        timeoutMs: 10_000,
        fetch: recordedFetch as typeof fetch,
      }),
      signal: controller.signal,
      log: pino({ level: "silent" }),
      attempt: 1,
      session,
    });
    return ended(complete);
  } catch (error) {
    return ended(decide(error, facts));
  }
}

/** The outcome one failed attempt leads to when it is the last (what the worker would settle). */
function decide(error: unknown, facts: { attempts: number; deliveryCount: number }): Outcome {
  const failure = classifyFailure(error);
  return failure.kind === "permanent"
    ? deadLetter(failure, facts)
    : attemptsUsedUp(failure, facts, undefined);
}
