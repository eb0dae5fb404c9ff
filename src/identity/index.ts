export { chooseCredential, managedIdentitySource } from "./credential.ts";
export type { ChosenCredential, CredentialSource, ManagedIdentitySource } from "./credential.ts";
export {
  CredentialConfigError,
  MissingAppRoleError,
  resourceOf,
  TokenAcquisitionError,
  TokenFormatError,
} from "./errors.ts";
export { createRoleTokenProvider, REFRESH_MARGIN_MS } from "./role-token-provider.ts";
export type { ApiRef, ApiTokenState, RoleToken, RoleTokenProvider } from "./role-token-provider.ts";
export { readTokenClaims } from "./token-claims.ts";
export type { TokenClaims } from "./token-claims.ts";
