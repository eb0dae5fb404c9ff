export { AZURE_SERVICE_BUS, BUILT_IN_APPLICATIONS, MICROSOFT_GRAPH } from "./built-in-applications.ts";
export { loadTenantFile, SAMPLE_TENANT_PATH, TenantFileError, tenantFromObject } from "./load.ts";
export type { Application, AppRole, ManagedIdentity, ServiceBusRole, TenantFile } from "./schema.ts";
export { MIN_TOKEN_LIFETIME_SECONDS, SERVICE_BUS_ROLES, tenantFileSchema } from "./schema.ts";
export type { AppRoleAssignment, ServiceBusRight, ServiceBusRoleAssignment } from "./tenant.ts";
export { Tenant, TenantReferenceError } from "./tenant.ts";
