// keyless-worker on Azure, secret-free end to end: a user-assigned managed identity receives from Service Bus
// (Data Receiver on the queue only), holds the API's app role (Graph extension), and a second identity lets the
// KEDA scaler read the queue length. Deploy: see deploy/README.md.

targetScope = 'resourceGroup'

@description('Prefix for every resource name.')
param name string = 'keyless'
param location string = resourceGroup().location
@description('Container image, e.g. myregistry.azurecr.io/keyless-worker:1.0.0')
param image string
@description('Queue the worker receives from (must also be in serviceBusQueues).')
param queueName string = 'orders'
@description('Queues to create, as in the Service Bus emulator Config.json.')
param serviceBusQueues array = [
  { name: 'orders', maxDeliveryCount: 5, lockDuration: 'PT30S', deadLetteringOnMessageExpiration: true }
]
@description('Base URL of the protected API the handlers call.')
param apiBaseUrl string
@description('Its scope, e.g. api://<appId>/.default')
param apiScope string
@description('Object id of the API\'s service principal (Enterprise applications → Object ID).')
param apiServicePrincipalId string
@description('Ids of the API\'s app roles to grant the worker identity (appRoles[].id).')
param apiAppRoleIds array = []
@description('Handlers running at once per replica (WORKER_CONCURRENCY).')
param workerConcurrency int = 8
@description('Messages received ahead per replica (WORKER_READ_AHEAD).')
param workerReadAhead int = 2
@description('Drain time on shutdown, seconds (WORKER_SHUTDOWN_GRACE_MS / 1000).')
param shutdownGraceSeconds int = 25
@description('Most replicas the backlog may scale to.')
param maxReplicas int = 10
@description('OTLP/HTTP endpoint for traces and metrics; empty = the Container Apps environment\'s OpenTelemetry agent or none.')
param otlpEndpoint string = ''
@allowed(['containerapps', 'appservice'])
param hosting string = 'containerapps'

module bus 'modules/servicebus.bicep' = {
  name: 'servicebus'
  params: { name: name, location: location, queues: serviceBusQueues }
}

module identities 'modules/identity.bicep' = {
  name: 'identities'
  params: { name: name, location: location, namespaceName: bus.outputs.namespaceName, queueName: queueName }
}

module appRoles 'modules/graph-approle.bicep' = {
  name: 'graph-approles'
  params: {
    principalId: identities.outputs.workerPrincipalId
    resourceServicePrincipalId: apiServicePrincipalId
    appRoleIds: apiAppRoleIds
  }
}

var workerEnv = [
  { name: 'SERVICEBUS_FULLY_QUALIFIED_NAMESPACE', value: bus.outputs.fullyQualifiedNamespace }
  { name: 'SERVICEBUS_ENTITIES', value: queueName }
  { name: 'AZURE_CLIENT_ID', value: identities.outputs.workerClientId }
  { name: 'API_ORDERS_BASE_URL', value: apiBaseUrl }
  { name: 'API_ORDERS_SCOPE', value: apiScope }
  { name: 'WORKER_CONCURRENCY', value: string(workerConcurrency) }
  { name: 'WORKER_READ_AHEAD', value: string(workerReadAhead) }
  { name: 'WORKER_SHUTDOWN_GRACE_MS', value: string(shutdownGraceSeconds * 1000) }
  { name: 'WORKER_HEALTH_PORT', value: '8080' }
  { name: 'OTEL_SERVICE_NAME', value: '${name}-worker' }
]
var otlpEnv = empty(otlpEndpoint) ? [] : [{ name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: otlpEndpoint }]

module containerApp 'modules/containerapp.bicep' = if (hosting == 'containerapps') {
  name: 'containerapp'
  params: {
    name: name
    location: location
    image: image
    env: concat(workerEnv, otlpEnv)
    workerIdentityId: identities.outputs.workerIdentityId
    scalerIdentityId: identities.outputs.scalerIdentityId
    namespaceName: bus.outputs.namespaceName
    queueName: queueName
    // One replica per (concurrency + read-ahead) waiting messages: a replica holds at most that many.
    messagesPerReplica: workerConcurrency + workerReadAhead
    maxReplicas: maxReplicas
    terminationGracePeriodSeconds: shutdownGraceSeconds + 5
  }
}

module appService 'modules/appservice.bicep' = if (hosting == 'appservice') {
  name: 'appservice'
  params: {
    name: name
    location: location
    image: image
    env: concat(workerEnv, otlpEnv)
    workerIdentityId: identities.outputs.workerIdentityId
  }
}

output serviceBusNamespace string = bus.outputs.fullyQualifiedNamespace
output workerIdentityClientId string = identities.outputs.workerClientId
output workerIdentityPrincipalId string = identities.outputs.workerPrincipalId
output doctor string = hosting == 'containerapps'
  ? 'az containerapp exec -g ${resourceGroup().name} -n ${name}-worker --command "keyless doctor"'
  : 'az webapp ssh -g ${resourceGroup().name} -n ${name}-worker, then: keyless doctor'
