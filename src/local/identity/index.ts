export { startIdentityPlatform } from "./identity-platform.ts";
export type { IdentityPlatform, IdentityPlatformOptions } from "./identity-platform.ts";
export type { IdentityEndpointFault } from "./managed-identity-routes.ts";
export { SigningKeys } from "./signing-keys.ts";
export { issuerUrl, TokenIssuer, UnknownResourceError } from "./token-issuer.ts";
export type { IssuedToken, TokenVersion } from "./token-issuer.ts";
