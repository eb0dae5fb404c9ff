export { callerOf, entraAuth } from "./entra-auth.ts";
export { createEntraTokenValidator, TokenValidationError } from "./entra-token-validator.ts";
export type { EntraTokenValidatorOptions, TokenVersion, VerifiedToken } from "./entra-token-validator.ts";
export { parseFault } from "./faults.ts";
export type { Fault } from "./faults.ts";
export { buildOrdersApi, startOrdersApi } from "./orders-api.ts";
export type { JournalEntry, OrdersApi, OrdersApiState } from "./orders-api.ts";
