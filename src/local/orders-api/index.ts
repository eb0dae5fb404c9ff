export { parseFault } from "./faults.ts";
export type { Fault } from "./faults.ts";
export { buildOrdersApi, startOrdersApi } from "./orders-api.ts";
export type { JournalEntry, OrdersApi, OrdersApiApp, OrdersApiState } from "./orders-api.ts";
