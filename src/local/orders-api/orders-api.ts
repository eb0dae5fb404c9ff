import { randomUUID } from "node:crypto";

import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from "fastify";
import type { Logger } from "pino";
import { z } from "zod";
import { callerOf, createEntraTokenValidator, entraAuth, type TokenVerifier } from "@keyless/entra-auth";

import { traceHttpServer } from "./trace-requests.ts";
import { type Brownout, brownoutAnswer, faultOutcome, parseFault } from "./faults.ts";
import { createIdempotencyStore, type StoredAnswer } from "./idempotency.ts";

/** One request as the API saw it. Claims only: never the token. */
export interface JournalEntry {
  /** When the answer went out (or the caller hung up). */
  readonly at: string;
  readonly durationMs: number;
  readonly method: string;
  readonly path: string;
  readonly orderId: string | undefined;
  /** The status sent; 499 when the caller hung up first. */
  readonly status: number;
  readonly idempotencyKey: string | undefined;
  /** True when the answer was an Idempotency-Key replay (no effect applied). */
  readonly replayed: boolean;
  readonly traceparent: string | undefined;
  readonly caller:
    { oid: string; appId: string; aud: string; roles: readonly string[]; version: string } | undefined;
}

interface Order {
  id: string;
  status: "open" | "fulfilled" | "refunded";
  fulfilments: number;
  refunds: Array<{ id: string; amount: number; currency: string; reason?: string }>;
}

export interface OrdersApiState {
  /** Every request so far, oldest first. */
  journal(): readonly JournalEntry[];
  /** Most requests it was handling at the same moment. */
  readonly maxConcurrentRequests: number;
  /** Effects really applied to an order (a replayed or abandoned request applies none). */
  effects(orderId: string): { fulfilments: number; refunds: number };
  /** Starts (or, with undefined, ends) a brownout over every order route (faults.ts). */
  setBrownout(brownout: Brownout | undefined): void;
}

/** The fastify app `buildOrdersApi` returns: not listening yet, its state at `app.orders`. */
export type OrdersApiApp = FastifyInstance & { readonly orders: OrdersApiState };

const fulfilmentBody = z.object({ warehouse: z.string().min(1).max(50).optional() }).strict();
const refundBody = z
  .object({
    amount: z.number().positive(),
    currency: z.string().regex(/^[A-Z]{3}$/),
    reason: z.string().max(500).optional(),
  })
  .strict();

type OrderRequest = FastifyRequest<{ Params: { id: string } }>;

/** A request header's first value (Node gives repeated headers as an array). */
export const firstHeader = (request: FastifyRequest, name: string) => {
  const v = request.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/**
 * The sample "orders API": a role-protected API like the ones our users call. Requires an app role per route,
 * honours Idempotency-Key, and plays faults chosen by the order id (faults.ts). Built, not started: tests can
 * `inject`; `startOrdersApi` listens.
 */
export function buildOrdersApi(options: { validator: TokenVerifier; logger?: Logger }): OrdersApiApp {
  // Typed as the plain instance: Fastify() also returns a PromiseLike, which would not narrow to OrdersApiApp.
  const app: FastifyInstance = Fastify({
    forceCloseConnections: true,
    // fastify's request serializer logs method and url, never headers: the bearer token stays out of logs.
    ...(options.logger ? { loggerInstance: options.logger as FastifyBaseLogger } : { logger: false }),
  });
  traceHttpServer(app, "orders-api");
  const auth = entraAuth(options.validator, { realm: "orders-api" });
  const orders = new Map<string, Order>();
  const journal: JournalEntry[] = [];
  const faultHits = new Map<string, number>();
  let brownout: Brownout | undefined;
  let brownoutRequests = 0;
  const idempotency = createIdempotencyStore();
  let inFlight = 0;
  let maxConcurrentRequests = 0;

  // The response's "close" comes both after a sent answer and when the caller hangs up (fastify's onResponse only
  // after the former), so concurrency and the journal count abandoned requests too.
  app.addHook("onRequest", async (request, reply) => {
    const startedAt = performance.now();
    inFlight += 1;
    maxConcurrentRequests = Math.max(maxConcurrentRequests, inFlight);
    // "finish" rather than writableFinished: inject()'s stand-in response has only the events.
    let answered = false;
    reply.raw.once("finish", () => (answered = true));
    reply.raw.once("close", () => {
      inFlight -= 1;
      const caller = callerOf(request);
      journal.push({
        at: new Date().toISOString(),
        durationMs: Math.round(performance.now() - startedAt),
        method: request.method,
        path: request.url.split("?")[0] ?? request.url,
        orderId: (request.params as { id?: string } | undefined)?.id,
        status: answered ? reply.statusCode : 499,
        idempotencyKey: firstHeader(request, "idempotency-key"),
        replayed: reply.getHeader("idempotent-replayed") === "true",
        traceparent: firstHeader(request, "traceparent"),
        caller: caller && {
          oid: caller.claims.oid,
          appId: caller.callerAppId,
          aud: String(caller.claims.aud),
          roles: caller.claims.roles,
          version: caller.version,
        },
      });
    });
  });

  const order = (id: string) => {
    let found = orders.get(id);
    if (!found) {
      found = { id, status: "open", fulfilments: 0, refunds: [] };
      orders.set(id, found);
    }
    return found;
  };

  /**
   * Plays the fault the order id (or X-Fault) asks for, after authentication and roles, before the body is read.
   * Returns "answered" when the fault answered, "gone" when the caller hung up during a delay, else "continue".
   */
  const playFault = async (request: OrderRequest, reply: FastifyReply) => {
    if (brownout) {
      const answer = brownoutAnswer(brownout, ++brownoutRequests);
      if (answer) {
        await reply.code(answer.status).headers(answer.headers).send(answer.body);
        return "answered";
      }
    }
    const header = firstHeader(request, "x-fault");
    const fault = parseFault(header ?? request.params.id);
    if (!fault) return "continue";
    // Counted per order (and per X-Fault value), across routes: "the first n requests for that order".
    const key = header === undefined ? request.params.id : `${header}\n${request.params.id}`;
    const hit = (faultHits.get(key) ?? 0) + 1;
    faultHits.set(key, hit);
    const outcome = faultOutcome(fault, hit, request.params.id);
    if (!outcome) return "continue";
    if ("answer" in outcome) {
      await reply.code(outcome.answer.status).headers(outcome.answer.headers).send(outcome.answer.body);
      return "answered";
    }
    const gone = await new Promise<boolean>((resolve) => {
      if (request.raw.socket.destroyed) return resolve(true);
      const timer = setTimeout(() => {
        reply.raw.off("close", onClose);
        resolve(false);
      }, outcome.delayMs);
      const onClose = () => {
        clearTimeout(timer);
        resolve(true);
      };
      reply.raw.once("close", onClose);
    });
    return gone ? "gone" : "continue";
  };

  /** Runs an effect once per Idempotency-Key, per caller, method and path. */
  const once = (request: OrderRequest, reply: FastifyReply, body: unknown, effect: () => StoredAnswer) => {
    const key = firstHeader(request, "idempotency-key");
    if (!key) {
      const answer = effect();
      return reply.code(answer.status).send(answer.body);
    }
    const path = request.url.split("?")[0];
    const scope = JSON.stringify([callerOf(request)?.claims.oid, request.method, path, key]);
    const result = idempotency.run(scope, body, effect);
    if (result.kind === "mismatch") {
      return reply.code(422).send({
        error: "idempotency_key_reused",
        message: "this Idempotency-Key was already used with a different body",
      });
    }
    if (result.kind === "replayed") reply.header("idempotent-replayed", "true");
    return reply.code(result.answer.status).send(result.answer.body);
  };

  const invalid = (reply: FastifyReply, error: z.ZodError) =>
    reply.code(400).send({
      error: "invalid_body",
      issues: error.issues.map((i) => ({ path: i.path.join("."), message: i.message })),
    });

  app.get("/healthz", async () => ({ ok: true }));

  app.get<{ Params: { id: string } }>(
    "/orders/:id",
    { preHandler: [auth.authenticate, auth.requireAppRoles("Orders.Read")] },
    async (request, reply) => {
      if ((await playFault(request, reply)) !== "continue") return reply;
      return order(request.params.id);
    },
  );

  app.post<{ Params: { id: string } }>(
    "/orders/:id/fulfilment",
    { preHandler: [auth.authenticate, auth.requireAppRoles("Orders.Fulfil")] },
    async (request, reply) => {
      if ((await playFault(request, reply)) !== "continue") return reply;
      const parsed = fulfilmentBody.safeParse(request.body ?? {});
      if (!parsed.success) return invalid(reply, parsed.error);
      return once(request, reply, parsed.data, () => {
        const o = order(request.params.id);
        if (o.status !== "open") {
          return {
            status: 409,
            body: { error: "conflict", message: `order ${o.id} is already ${o.status}` },
          };
        }
        o.status = "fulfilled";
        o.fulfilments += 1;
        return {
          status: 201,
          body: { orderId: o.id, status: o.status, warehouse: parsed.data.warehouse ?? "main" },
        };
      });
    },
  );

  app.post<{ Params: { id: string } }>(
    "/orders/:id/refunds",
    { preHandler: [auth.authenticate, auth.requireAppRoles("Orders.Refund")] },
    async (request, reply) => {
      if ((await playFault(request, reply)) !== "continue") return reply;
      const parsed = refundBody.safeParse(request.body ?? {});
      if (!parsed.success) return invalid(reply, parsed.error);
      return once(request, reply, parsed.data, () => {
        const o = order(request.params.id);
        const refund = { id: randomUUID(), ...parsed.data };
        o.refunds.push(refund);
        o.status = "refunded";
        return { status: 201, body: { orderId: o.id, refund } };
      });
    },
  );

  const state: OrdersApiState = {
    journal: () => journal,
    get maxConcurrentRequests() {
      return maxConcurrentRequests;
    },
    effects: (orderId) => {
      const o = orders.get(orderId);
      return { fulfilments: o?.fulfilments ?? 0, refunds: o?.refunds.length ?? 0 };
    },
    setBrownout: (next) => {
      brownout = next;
      brownoutRequests = 0;
    },
  };
  // A decoration, not a property: fastify refuses later decorations with the same name instead of clobbering.
  app.decorate("orders", state);
  return app as OrdersApiApp;
}

export interface OrdersApi extends OrdersApiState {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Starts the sample API, validating tokens against the given authority's OIDC metadata. */
export async function startOrdersApi(options: {
  authority: string;
  tenantId: string;
  /** The API's App ID URIs and its appId. */
  audiences: readonly string[];
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 7071; 0 picks a free port. */
  port?: number;
  logger?: Logger;
}): Promise<OrdersApi> {
  const validator = createEntraTokenValidator({
    authority: options.authority,
    tenantId: options.tenantId,
    audiences: options.audiences,
  });
  const app = buildOrdersApi({ validator, ...(options.logger ? { logger: options.logger } : {}) });
  const host = options.host ?? "127.0.0.1";
  await app.listen({ host, port: options.port ?? 7071 });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const urlHost =
    host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "[::1]" : host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${port}/`,
    port,
    journal: app.orders.journal,
    get maxConcurrentRequests() {
      return app.orders.maxConcurrentRequests;
    },
    effects: app.orders.effects,
    setBrownout: app.orders.setBrownout,
    close: () => app.close(),
  };
}
