// keyless-worker on Azure, secret-free end to end: a user-assigned managed identity receives from Service Bus
// (Data Receiver on the queue only) and holds the API's app roles (Graph extension); a second identity lets the
// platform read the queue length for KEDA and pull the image. Deploy: see deploy/README.md.

targetScope = 'resourceGroup'

@description('Prefix for every resource name.')
param name string = 'keyless'
param location string = resourceGroup().location
@description('Container image, e.g. myregistry.azurecr.io/keyless-worker:1.0.0')
param image string
@description('Name of the Azure Container Registry (same resource group) holding the image; empty = a public image.')
param registryName string = ''
@description('Queue the worker receives from; one of the topology\'s queues.')
param queueName string = 'orders'
@description('Base URL of the protected API the handlers call (API_ORDERS_BASE_URL).')
param apiBaseUrl string
@description('Its scope, e.g. api://<appId>/.default (API_ORDERS_SCOPE).')
param apiScope string
@description('Object id of the API\'s service principal (Enterprise applications → Object ID).')
param apiServicePrincipalId string
@description('Ids of the API\'s app roles to grant the worker identity (appRoles[].id); empty = grant with keyless grant instead.')
param apiAppRoleIds array = []
@description('Handlers running at once per replica (WORKER_CONCURRENCY).')
param workerConcurrency int = 8
@description('Messages locked ahead per replica (WORKER_READ_AHEAD).')
param workerReadAhead int = 2
@description('Drain time on shutdown, seconds (WORKER_SHUTDOWN_GRACE_MS / 1000).')
param shutdownGraceSeconds int = 25
@description('Most replicas the backlog may scale to (Container Apps).')
@minValue(1)
@maxValue(1000)
param maxReplicas int = 10
@description('OTLP/HTTP endpoint for traces and metrics (OTEL_EXPORTER_OTLP_ENDPOINT); empty = none, or the environment agent.')
param otlpEndpoint string = ''
@description('Container Apps only: an OTLP destination for the environment\'s managed OpenTelemetry agent; empty = no agent.')
param otelAgentOtlpDestination string = ''
@allowed(['containerapps', 'appservice'])
param hosting string = 'containerapps'

// The topology is the same Config.json `keyless stack` and the official emulator read: one description of the
// queues for every environment. Point this at your own file (the path must be a literal).
var topology = loadJsonContent('../src/local/broker/sample-config.json')
var topologyQueues = topology.UserConfig.Namespaces[0].Queues
var workerQueue = filter(topologyQueues, q => q.Name == queueName)[0]

module bus 'modules/servicebus.bicep' = {
  name: 'servicebus'
  params: { name: name, location: location, queues: topologyQueues }
}

module identities 'modules/identity.bicep' = {
  name: 'identities'
  params: { name: name, location: location, namespaceName: bus.outputs.namespaceName, queueName: queueName }
}

module appRoles 'modules/graph-approle.bicep' = if (!empty(apiAppRoleIds)) {
  name: 'graph-approles'
  params: {
    principalId: identities.outputs.workerPrincipalId
    resourceServicePrincipalId: apiServicePrincipalId
    appRoleIds: apiAppRoleIds
  }
}

module acrPull 'modules/acr-pull.bicep' = if (!empty(registryName)) {
  name: 'acr-pull'
  params: { registryName: registryName, principalId: identities.outputs.scalerPrincipalId }
}

// Everything the worker reads; each name is checked against the worker's documented variables by
// test/deployment. The identity endpoint (IDENTITY_ENDPOINT/IDENTITY_HEADER) is set by the platform itself.
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
  // The worker dead-letters on the queue's last delivery itself, with its own description (RetriesExhausted).
  { name: 'WORKER_MAX_DELIVERIES', value: string(workerQueue.Properties.MaxDeliveryCount) }
  { name: 'OTEL_SERVICE_NAME', value: '${name}-worker' }
]
var otlpEnv = empty(otlpEndpoint) ? [] : [{ name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: otlpEndpoint }]

module containerApp 'modules/containerapp.bicep' = if (hosting == 'containerapps') {
  name: 'containerapp'
  params: {
    name: name
    location: location
    image: image
    registryServer: empty(registryName) ? '' : acrPull.outputs.loginServer
    env: concat(workerEnv, otlpEnv)
    workerIdentityId: identities.outputs.workerIdentityId
    scalerIdentityId: identities.outputs.scalerIdentityId
    namespaceName: bus.outputs.namespaceName
    queueName: queueName
    // A replica holds at most concurrency + read-ahead locked messages, so that many waiting messages per replica
    // is the backlog one replica can work off; KEDA scales to ceil(active messages / this).
    messagesPerReplica: workerConcurrency + workerReadAhead
    maxReplicas: maxReplicas
    // Longer than the worker's drain, so SIGKILL never cuts a handler that was finishing.
    terminationGracePeriodSeconds: shutdownGraceSeconds + 5
    otelAgentOtlpDestination: otelAgentOtlpDestination
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
    registryIdentityId: empty(registryName) ? '' : identities.outputs.scalerIdentityId
    registryIdentityClientId: empty(registryName) ? '' : identities.outputs.scalerClientId
  }
}

output serviceBusNamespace string = bus.outputs.fullyQualifiedNamespace
output queueName string = queueName
output workerIdentityClientId string = identities.outputs.workerClientId
output workerIdentityPrincipalId string = identities.outputs.workerPrincipalId
output appName string = '${name}-worker'
output doctor string = hosting == 'containerapps'
  ? 'az containerapp exec -g ${resourceGroup().name} -n ${name}-worker --command "keyless doctor"'
  : 'az webapp ssh -g ${resourceGroup().name} -n ${name}-worker, then: keyless doctor'
output grantIfSkipped string = empty(apiAppRoleIds)
  ? 'keyless grant --identity ${identities.outputs.workerPrincipalId} --api <API appId or name> --role <role>'
  : 'granted by this deployment'
