import type { Application } from "./schema.ts";

/**
 * First-party resources every tenant has. Microsoft Graph's appId and role ids are the real ones (so scripts written
 * against Azure work unchanged); the service-principal ids and Service Bus's appId are local to keyless.
 */
export const MICROSOFT_GRAPH: Application = {
  displayName: "Microsoft Graph",
  appId: "00000003-0000-0000-c000-000000000000",
  servicePrincipalId: "a438cb9f-f7f4-4f4c-bb2a-a1d0d1cc29c2",
  identifierUris: ["https://graph.microsoft.com"],
  accessTokenAcceptedVersion: null,
  optionalClaims: [],
  appRoles: [
    {
      id: "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
      value: "Application.Read.All",
      displayName: "Read all applications",
      allowedMemberTypes: ["Application"],
      isEnabled: true,
    },
    {
      id: "06b708a9-e830-4db3-a914-8e69da51d44f",
      value: "AppRoleAssignment.ReadWrite.All",
      displayName: "Manage app permission grants and app role assignments",
      allowedMemberTypes: ["Application"],
      isEnabled: true,
    },
  ],
};

export const AZURE_SERVICE_BUS: Application = {
  displayName: "Azure Service Bus",
  appId: "24ba6c2d-de99-41b1-a8f0-498ba9ec92f8",
  servicePrincipalId: "31d1375e-9ea9-40ce-a09f-95e64ef3c816",
  identifierUris: ["https://servicebus.azure.net"],
  accessTokenAcceptedVersion: null,
  optionalClaims: [],
  appRoles: [],
};

export const BUILT_IN_APPLICATIONS: readonly Application[] = [MICROSOFT_GRAPH, AZURE_SERVICE_BUS];
