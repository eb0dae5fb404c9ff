import { z } from "zod";

/** Azure Service Bus data roles, as Azure RBAC names them. */
export const SERVICE_BUS_ROLES = [
  "Azure Service Bus Data Owner",
  "Azure Service Bus Data Sender",
  "Azure Service Bus Data Receiver",
] as const;

const guid = z.guid({
  error: (issue) =>
    issue.input === undefined ? "is required" : "must be a GUID like 00000000-0000-0000-0000-000000000000",
});
const name = z.string().min(1).max(128);

const appRole = z.strictObject({
  id: guid,
  value: z.string().regex(/^[^\s]+$/, "must be a role value without spaces, e.g. Orders.Read"),
  displayName: z.string().optional(),
  description: z.string().optional(),
  allowedMemberTypes: z
    .array(z.enum(["Application", "User"]))
    .min(1)
    .default(["Application"]),
  isEnabled: z.boolean().default(true),
});

const managedIdentity = z.strictObject({
  /** The identity's resource name; what people type. */
  name,
  clientId: guid,
  /** The object id of the identity's service principal (`principalId` in Azure). */
  objectId: guid,
  /** ARM resource id; becomes the token's `xms_mirid` and is accepted as `mi_res_id`. */
  resourceId: z.string().startsWith("/subscriptions/").optional(),
  /** The identity the managed-identity endpoint uses when the request names none. At most one. */
  systemAssigned: z.boolean().default(false),
});

const application = z.strictObject({
  displayName: name,
  appId: guid,
  servicePrincipalId: guid,
  identifierUris: z.array(z.string().min(1)).default([]),
  /** The API's `accessTokenAcceptedVersion` (Graph: `api.requestedAccessTokenVersion`): null/1 → v1, 2 → v2. */
  accessTokenAcceptedVersion: z.union([z.literal(1), z.literal(2), z.null()]).default(null),
  /** Optional claims the API asked for; only `idtyp` changes app-only tokens. */
  optionalClaims: z.array(z.literal("idtyp")).default([]),
  appRoles: z.array(appRole).default([]),
  /**
   * Served locally by `keyless stack` as API_<NAME>_*: "orders" is the sample orders API, any other name gets a
   * stand-in that checks tokens and roles and records calls.
   */
  api: z
    .strictObject({ name: z.string().regex(/^[a-z][a-z0-9_]*$/, "lower-case letters, digits and _") })
    .optional(),
});

const appRoleAssignment = z.strictObject({
  /** Identity name, client id or object id. */
  principal: name,
  /** Application display name, appId or identifier URI. */
  application: name,
  /** App role value, e.g. `Orders.Read`. */
  role: name,
});

const serviceBusRoleAssignment = z.strictObject({
  principal: name,
  role: z.enum(SERVICE_BUS_ROLES),
  /** `<namespace>`, `<namespace>/queues/<q>`, `<namespace>/topics/<t>` or `<namespace>/topics/<t>/subscriptions/<s>`. */
  scope: z
    .string()
    .regex(
      /^[^/]+(\/queues\/[^/]+|\/topics\/[^/]+(\/subscriptions\/[^/]+)?)?$/,
      "must be <namespace>, <namespace>/queues/<queue>, <namespace>/topics/<topic> or <namespace>/topics/<topic>/subscriptions/<subscription>",
    ),
});

/** The shortest token lifetime the stack issues (see tokenLifetimeSeconds below). */
export const MIN_TOKEN_LIFETIME_SECONDS = 180;

export const tenantFileSchema = z.strictObject({
  $comment: z.string().optional(),
  tenantId: guid,
  /**
   * Lifetime of issued tokens. Azure's managed-identity tokens live ~24 h; shorter makes role changes visible sooner.
   * At least 180 s: `@azure/service-bus` renews a link's claim 2 minutes before its token expires, and a token that
   * lives shorter sets that timer negative, so each link asks for a token every millisecond (docs/upstream.md).
   */
  tokenLifetimeSeconds: z
    .number()
    .int()
    .min(MIN_TOKEN_LIFETIME_SECONDS, {
      message: `at least ${MIN_TOKEN_LIFETIME_SECONDS}: the Service Bus SDK renews its claim 2 minutes before a token expires, and a shorter token makes it ask for one every millisecond`,
    })
    .max(86_400 * 2)
    .default(3600),
  managedIdentities: z.array(managedIdentity).default([]),
  applications: z.array(application).default([]),
  appRoleAssignments: z.array(appRoleAssignment).default([]),
  serviceBusRoleAssignments: z.array(serviceBusRoleAssignment).default([]),
});

export type TenantFile = z.infer<typeof tenantFileSchema>;
export type ManagedIdentity = z.infer<typeof managedIdentity>;
export type Application = z.infer<typeof application>;
export type AppRole = z.infer<typeof appRole>;
export type ServiceBusRole = (typeof SERVICE_BUS_ROLES)[number];
