import { z } from "zod";

import { defineHandler, defineHandlers } from "../../src/worker/handler.ts";
import { HandlerRejectedError } from "../../src/worker/errors.ts";

/**
 * The worker's tests run their own handlers, not the shipped ones, so adding or removing a shipped handler never
 * breaks them. They call the sample orders API of the local stack.
 */
const order = z.object({ orderId: z.string().min(1).max(100), warehouse: z.string().default("main") });

export const fulfil = defineHandler({
  subject: "orders.fulfil",
  schema: order,
  api: "orders",
  roles: ["Orders.Fulfil"],
  async handle({ body, api }) {
    await api.post(`orders/${encodeURIComponent(body.orderId)}/fulfilment`, { warehouse: body.warehouse });
  },
});

/** Needs a role the sample tenant does not grant the worker: dead-lettered as MissingAppRole. */
export const refund = defineHandler({
  subject: "orders.refund",
  schema: z.object({ orderId: z.string(), amount: z.number().positive(), currency: z.string() }),
  api: "orders",
  roles: ["Orders.Refund"],
  async handle({ body, api }) {
    await api.post(`orders/${encodeURIComponent(body.orderId)}/refunds`, {
      amount: body.amount,
      currency: body.currency,
    });
  },
});

/** Rejects every message with its own reason: the supported way for a handler to say "never retry this". */
export const cancelled = defineHandler({
  subject: "orders.cancelled-check",
  schema: order,
  api: "orders",
  roles: [],
  async handle({ body }) {
    throw new HandlerRejectedError("OrderCancelled", `order ${body.orderId} was cancelled before fulfilment`);
  },
});

export const testHandlers = defineHandlers([fulfil, refund, cancelled]);
