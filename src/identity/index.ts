export { chooseCredential, managedIdentitySource } from "./credential.ts";
export type { ChosenCredential, CredentialSource } from "./credential.ts";
export { CredentialConfigError, MissingAppRoleError, TokenAcquisitionError } from "./errors.ts";
export { createRoleTokenProvider } from "./role-token-provider.ts";
export type { ApiRef, RoleToken, RoleTokenProvider } from "./role-token-provider.ts";
export { readTokenClaims, TokenFormatError } from "./token-claims.ts";
export type { TokenClaims } from "./token-claims.ts";
