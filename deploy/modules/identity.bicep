// Two user-assigned identities, each with the least Service Bus role it needs, on the one queue:
// - worker: Data Receiver. It is the only identity the worker's code uses (AZURE_CLIENT_ID names it).
// - scaler: the platform's. The KEDA azure-servicebus scaler reads the queue's active message count through the
//   Service Bus management API (admin client GetQueueRuntimeProperties, kedacore/keda
//   pkg/scalers/azure_servicebus_scaler.go). With SAS that needs Manage rights (KEDA docs, keda#806); for Entra ID
//   the RBAC equivalent is Data Owner (public reports: keda#7822, azure-container-apps#1138; not tested here).
//   It is kept on its own identity, scoped to the one queue, so the worker never holds it. The same identity pulls
//   the image (AcrPull, main.bicep) when a registry is given.
param name string
param location string
param namespaceName string
param queueName string

var dataReceiver = '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0' // Azure Service Bus Data Receiver
var dataOwner = '090c5cfd-751d-490a-894a-3ce6f1109419' // Azure Service Bus Data Owner

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' existing = {
  name: namespaceName
}
resource queue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' existing = {
  parent: namespace
  name: queueName
}

resource worker 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${name}-worker-id'
  location: location
}
resource scaler 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${name}-scaler-id'
  location: location
}

// Assigned to the identities directly, never through groups: group changes reach managed-identity tokens only
// after the ~24 h back-end cache.
resource workerReceives 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: queue
  name: guid(queue.id, worker.id, dataReceiver)
  properties: {
    principalId: worker.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', dataReceiver)
  }
}
resource scalerReadsLength 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: queue
  name: guid(queue.id, scaler.id, dataOwner)
  properties: {
    principalId: scaler.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', dataOwner)
  }
}

output workerIdentityId string = worker.id
output workerClientId string = worker.properties.clientId
output workerPrincipalId string = worker.properties.principalId
output scalerIdentityId string = scaler.id
output scalerClientId string = scaler.properties.clientId
output scalerPrincipalId string = scaler.properties.principalId
