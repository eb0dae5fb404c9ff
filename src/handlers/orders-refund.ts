import { z } from "zod";

import { defineHandler } from "../worker/index.ts";

const schema = z.object({
  orderId: z.string().min(1).max(100),
  amount: z.number().positive().max(1_000_000),
  currency: z.string().regex(/^[A-Z]{3}$/, "must be an ISO 4217 code such as EUR"),
  reason: z.string().max(500).optional(),
});

/** `orders.refund`: asks the orders API to refund (part of) an order. Needs Orders.Refund. */
export const ordersRefund = defineHandler({
  subject: "orders.refund",
  schema,
  api: "orders",
  roles: ["Orders.Refund"],
  async handle({ body, api, log }) {
    const response = await api.post(`orders/${encodeURIComponent(body.orderId)}/refunds`, {
      amount: body.amount,
      currency: body.currency,
      ...(body.reason ? { reason: body.reason } : {}),
    });
    log.info({ orderId: body.orderId, status: response.status }, "refund recorded");
  },
});
