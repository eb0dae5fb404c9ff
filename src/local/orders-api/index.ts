export { callerOf, entraAuth } from "./entra-auth-plugin.ts";
export type { EntraAuth, EntraAuthOptions, TokenVerifier } from "./entra-auth-plugin.ts";
export { createEntraTokenValidator, TokenValidationError } from "./entra-token-validator.ts";
export type {
  EntraTokenValidatorOptions,
  TokenValidationCode,
  TokenVersion,
  VerifiedToken,
} from "./entra-token-validator.ts";
export { parseFault } from "./faults.ts";
export type { Fault } from "./faults.ts";
export { buildOrdersApi, startOrdersApi } from "./orders-api.ts";
export type { JournalEntry, OrdersApi, OrdersApiApp, OrdersApiState } from "./orders-api.ts";
