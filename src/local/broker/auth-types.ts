/** The contract between the broker and whoever decides identities and rights (the local identity platform, or a test). */
export type Right = "Send" | "Listen" | "Manage";

export interface BrokerAuth {
  /** Verifies a JWT given to $cbs (signature, aud, expiry) and returns who it is. Throws an Error whose message says why it is not valid (never include the token). */
  verifyJwt(token: string): Promise<{ principalId: string; expiresAtMs: number }>;
  /** The Service Bus data rights the principal (object id) holds on an entity path ("orders", "events", "events/subscriptions/audit"); namespace-scope assignments included. Re-evaluated at each put-token / attach, so role changes made at run time take effect for new tokens. */
  rightsOf(principalId: string, entityPath: string): ReadonlySet<Right>;
  /** Shared-access keys; the official emulator's default: { keyName: "RootManageSharedAccessKey", key: "SAS_KEY_VALUE", rights: ["Manage","Send","Listen"] }. */
  sasKeys: ReadonlyArray<{ keyName: string; key: string; rights: ReadonlyArray<Right> }>;
}

/** The official emulator's default key, which its documented connection string uses. */
export const EMULATOR_DEFAULT_SAS_KEY = {
  keyName: "RootManageSharedAccessKey",
  key: "SAS_KEY_VALUE",
  rights: ["Manage", "Send", "Listen"],
} as const satisfies BrokerAuth["sasKeys"][number];
