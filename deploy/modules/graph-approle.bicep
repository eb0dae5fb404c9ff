// The API's app roles granted to the worker identity: the declarative alternative to `keyless grant`.
// Needs a deployer with AppRoleAssignment.ReadWrite.All and Application.Read.All on Microsoft Graph.
extension microsoftGraphV1

param principalId string
param resourceServicePrincipalId string
param appRoleIds array

resource grant 'Microsoft.Graph/appRoleAssignedTo@v1.0' = [
  for roleId in appRoleIds: {
    appRoleId: roleId
    principalId: principalId
    resourceId: resourceServicePrincipalId
  }
]
