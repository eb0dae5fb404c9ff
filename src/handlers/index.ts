import { defineHandlers } from "../worker/index.ts";
import { ordersFulfil } from "./orders-fulfil.ts";
import { ordersRefund } from "./orders-refund.ts";

/** Every handler this worker ships, keyed by the subject it serves. */
export const handlers = defineHandlers([ordersFulfil, ordersRefund]);
