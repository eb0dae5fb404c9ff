import { z } from "zod";

import { defineHandler } from "../worker/index.ts";

const schema = z.object({
  orderId: z.string().min(1).max(100),
  warehouse: z.string().min(1).max(50).default("main"),
});

/** `orders.fulfil`: asks the orders API to fulfil an order. */
export const ordersFulfil = defineHandler({
  subject: "orders.fulfil",
  schema,
  api: "orders",
  roles: ["Orders.Fulfil"],
  async handle({ body, api, log }) {
    const response = await api.post(`orders/${encodeURIComponent(body.orderId)}/fulfilment`, {
      warehouse: body.warehouse,
    });
    log.info({ orderId: body.orderId, status: response.status }, "order fulfilled");
  },
});
