// The directory administrator's step: the APIs' app roles for the worker identity, through the Microsoft Graph
// Bicep extension (alias in bicepconfig.json) — the declarative `keyless grant`. It is a deployment of its own,
// because it needs rights in Microsoft Entra ID that whoever deploys main.bicep usually does not hold: the caller
// needs AppRoleAssignment.ReadWrite.All and Application.Read.All on Microsoft Graph (a person also a directory role
// such as Cloud Application Administrator), and Reader on the resource group to find the worker identity.
// It reads the same `apis` as main.bicep (graph-grants.bicepparam loads the same apis.json).
// New roles reach a managed identity's token only after Azure's ~24 h token cache; grant before rollout.
extension microsoftGraphV1

import { api } from 'types.bicep'

@description('The name main.bicep was deployed with: the worker identity is <name>-worker-id in this resource group.')
param name string = 'keyless'
@description('The APIs and the values of their app roles the worker holds (the same array main.bicep takes).')
param apis api[]

resource worker 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' existing = {
  name: '${name}-worker-id'
}

// Each API's service principal, found by its application (client) id; its appRoles map role values to ids.
resource apiPrincipal 'Microsoft.Graph/servicePrincipals@v1.0' existing = [
  for a in apis: {
    appId: a.appId
  }
]

var grants = flatten(map(range(0, length(apis)), i => map(apis[i].roles, role => { api: i, role: role })))

resource grant 'Microsoft.Graph/appRoleAssignedTo@v1.0' = [
  for g in grants: {
    appRoleId: filter(apiPrincipal[g.api].appRoles, r => r.value == g.role)[0].id
    principalId: worker.properties.principalId
    resourceId: apiPrincipal[g.api].id
  }
]

output granted string[] = map(grants, g => '${apis[g.api].name}: ${g.role}')
