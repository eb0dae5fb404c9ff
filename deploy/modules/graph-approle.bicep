// The API's app roles granted to the worker identity through the Microsoft Graph Bicep extension (alias in
// ../bicepconfig.json): the declarative alternative to `keyless grant`.
// The deployer needs AppRoleAssignment.ReadWrite.All and Application.Read.All on Microsoft Graph (a delegated
// caller also a directory role such as Cloud Application Administrator). Without them, deploy with an empty
// apiAppRoleIds and run `keyless grant` as someone who has them.
// New roles reach a managed identity's token only after Azure's ~24 h token cache; plan grants before rollout.
extension microsoftGraphV1

@description('Object id of the managed identity\'s service principal (its principalId).')
param principalId string
@description('Object id of the API\'s service principal (Enterprise applications → Object ID).')
param resourceServicePrincipalId string
@description('Ids of the API\'s app roles (appRoles[].id) to grant.')
param appRoleIds array

resource grant 'Microsoft.Graph/appRoleAssignedTo@v1.0' = [
  for roleId in appRoleIds: {
    appRoleId: roleId
    principalId: principalId
    resourceId: resourceServicePrincipalId
  }
]
