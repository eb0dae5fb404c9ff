import { createHash, randomUUID } from "node:crypto";

import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { z } from "zod";

import { traceHttpServer } from "../../telemetry/http-server-spans.ts";
import { callerOf, entraAuth } from "./entra-auth.ts";
import { createEntraTokenValidator, type VerifiedToken } from "./entra-token-validator.ts";
import { parseFault } from "./faults.ts";

/** One request as the API saw it (never the token). */
export interface JournalEntry {
  readonly at: string;
  readonly method: string;
  readonly path: string;
  readonly orderId: string | undefined;
  readonly status: number;
  readonly idempotencyKey: string | undefined;
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
  /** Effects really applied to an order (a replayed request applies none). */
  effects(orderId: string): { fulfilments: number; refunds: number };
}

const fulfilmentBody = z.object({ warehouse: z.string().min(1).max(50).optional() }).strict();
const refundBody = z
  .object({
    amount: z.number().positive(),
    currency: z.string().regex(/^[A-Z]{3}$/),
    reason: z.string().max(500).optional(),
  })
  .strict();

/**
 * The sample "orders API": a role-protected API like the ones our users call. Requires app roles per route,
 * honours Idempotency-Key, and plays faults chosen by the order id (see faults.ts). Built, not started (tests can
 * `inject`); `startOrdersApi` listens.
 */
export function buildOrdersApi(options: { validator: { verify(token: string): Promise<VerifiedToken> } }): {
  app: FastifyInstance;
  state: OrdersApiState;
} {
  const app = Fastify({ logger: false, forceCloseConnections: true });
  traceHttpServer(app, "orders-api");
  const auth = entraAuth(options.validator, "orders-api");
  const orders = new Map<string, Order>();
  const journal: JournalEntry[] = [];
  const faultHits = new Map<string, number>();
  const idempotent = new Map<string, { bodyHash: string; status: number; body: unknown } | "in-progress">();
  let inFlight = 0;
  let maxConcurrentRequests = 0;

  app.addHook("onRequest", async () => {
    inFlight += 1;
    maxConcurrentRequests = Math.max(maxConcurrentRequests, inFlight);
  });
  app.addHook("onResponse", async (request, reply) => {
    inFlight -= 1;
    const caller = callerOf(request);
    const params = request.params as { id?: string } | undefined;
    const header = (name: string) => {
      const v = request.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    journal.push({
      at: new Date().toISOString(),
      method: request.method,
      path: request.url.split("?")[0] ?? request.url,
      orderId: params?.id,
      status: reply.statusCode,
      idempotencyKey: header("idempotency-key"),
      replayed: reply.getHeader("idempotent-replayed") === "true",
      traceparent: header("traceparent"),
      caller: caller && {
        oid: caller.claims.oid,
        appId: caller.callerAppId,
        aud: String(caller.claims.aud),
        roles: caller.claims.roles,
        version: caller.version,
      },
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

  /** Plays the fault the order id (or X-Fault) asks for; returns true when it answered the request. */
  const playFault = async (request: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
    const headerFault = request.headers["x-fault"];
    const source = typeof headerFault === "string" ? headerFault : request.params.id;
    const fault = parseFault(source);
    if (!fault) return false;
    const key = `${request.method} ${request.url} ${source}`;
    const hits = (faultHits.get(key) ?? 0) + 1;
    faultHits.set(key, hits);
    if (fault.kind === "flaky" && hits <= fault.failures) {
      await reply
        .code(503)
        .send({ error: "unavailable", message: `injected transient failure ${hits} of ${fault.failures}` });
      return true;
    }
    if (fault.kind === "throttled" && hits === 1) {
      await reply
        .code(429)
        .header("retry-after", String(fault.retryAfterSeconds))
        .send({ error: "throttled" });
      return true;
    }
    if (fault.kind === "slow") {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, fault.delayMs);
        request.raw.once("close", () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    if (fault.kind === "reject") {
      await reply.code(422).send({
        error: "unprocessable",
        message: `order ${request.params.id} cannot be processed (injected rejection)`,
      });
      return true;
    }
    return false;
  };

  /** Runs an effect once per Idempotency-Key: a replay returns the first answer and applies nothing. */
  const once = async (
    request: FastifyRequest<{ Params: { id: string } }>,
    reply: FastifyReply,
    effect: () => { status: number; body: unknown },
  ) => {
    const key = request.headers["idempotency-key"];
    if (typeof key !== "string" || key === "") {
      const result = effect();
      return reply.code(result.status).send(result.body);
    }
    const scope = `${callerOf(request)?.claims.oid}:${request.method}:${request.url}:${key}`;
    const bodyHash = createHash("sha256")
      .update(JSON.stringify(request.body ?? null))
      .digest("hex");
    const previous = idempotent.get(scope);
    if (previous === "in-progress") {
      return reply
        .code(409)
        .send({ error: "conflict", message: "a request with this Idempotency-Key is still being processed" });
    }
    if (previous) {
      if (previous.bodyHash !== bodyHash) {
        return reply.code(422).send({
          error: "idempotency_key_reused",
          message: "this Idempotency-Key was used with a different body",
        });
      }
      return reply.code(previous.status).header("idempotent-replayed", "true").send(previous.body);
    }
    idempotent.set(scope, "in-progress");
    const result = effect();
    idempotent.set(scope, { bodyHash, ...result });
    return reply.code(result.status).send(result.body);
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
      if (await playFault(request, reply)) return reply;
      return order(request.params.id);
    },
  );

  app.post<{ Params: { id: string } }>(
    "/orders/:id/fulfilment",
    { preHandler: [auth.authenticate, auth.requireAppRoles("Orders.Fulfil")] },
    async (request, reply) => {
      if (await playFault(request, reply)) return reply;
      const parsed = fulfilmentBody.safeParse(request.body ?? {});
      if (!parsed.success) return invalid(reply, parsed.error);
      return once(request, reply, () => {
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
      if (await playFault(request, reply)) return reply;
      const parsed = refundBody.safeParse(request.body ?? {});
      if (!parsed.success) return invalid(reply, parsed.error);
      return once(request, reply, () => {
        const o = order(request.params.id);
        const refund = { id: randomUUID(), ...parsed.data };
        o.refunds.push(refund);
        o.status = "refunded";
        return { status: 201, body: { orderId: o.id, refund } };
      });
    },
  );

  return {
    app,
    state: {
      journal: () => journal,
      get maxConcurrentRequests() {
        return maxConcurrentRequests;
      },
      effects: (orderId) => {
        const o = orders.get(orderId);
        return { fulfilments: o?.fulfilments ?? 0, refunds: o?.refunds.length ?? 0 };
      },
    },
  };
}

export interface OrdersApi extends OrdersApiState {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Starts the sample API on loopback, validating tokens against the given authority's OIDC metadata. */
export async function startOrdersApi(options: {
  authority: string;
  tenantId: string;
  audiences: readonly string[];
  host?: string;
  /** Default 7071; 0 picks a free port. */
  port?: number;
}): Promise<OrdersApi> {
  const validator = createEntraTokenValidator({
    authority: options.authority,
    tenantId: options.tenantId,
    audiences: options.audiences,
  });
  const { app, state } = buildOrdersApi({ validator });
  const host = options.host ?? "127.0.0.1";
  await app.listen({ host, port: options.port ?? 7071 });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const urlHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
  return {
    url: `http://${urlHost}:${port}/`,
    port,
    journal: state.journal,
    get maxConcurrentRequests() {
      return state.maxConcurrentRequests;
    },
    effects: state.effects,
    close: () => app.close(),
  };
}
