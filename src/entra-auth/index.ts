/**
 * Entra ID access-token checks for an API that workers call with their managed identity: a validator (jose only)
 * and fastify preHandlers built on it. See README.md.
 */
export { callerOf, entraAuth } from "./fastify-auth.ts";
export type { EntraAuth, EntraAuthOptions, TokenVerifier } from "./fastify-auth.ts";
export { createEntraTokenValidator, TokenValidationError } from "./token-validator.ts";
export type {
  EntraTokenValidatorOptions,
  TokenValidationCode,
  TokenVersion,
  VerifiedToken,
} from "./token-validator.ts";
