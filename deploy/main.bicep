// keyless-worker on Azure, secret-free end to end: a user-assigned managed identity receives from Service Bus
// (Data Receiver on the queue only) and calls the APIs in `apis`; a second identity lets the platform read the queue
// length for KEDA and pull the image. The APIs' app roles are granted by graph-grants.bicep, the directory
// administrator's step (this deployment prints the command). Deploy: see deploy/README.md.

targetScope = 'resourceGroup'

import { api, topology } from 'types.bicep'

@description('Prefix for every resource name.')
param name string = 'keyless'
param location string = resourceGroup().location
@description('Container image, e.g. myregistry.azurecr.io/keyless-worker:1.0.0')
param image string
@description('Name of the Azure Container Registry (same resource group) holding the image; empty = a public image.')
param registryName string = ''
@description('Queue the worker receives from; one of the production topology\'s queues (deploy/topology.json).')
param queueName string = 'orders'
@description('The protected APIs the handlers call: each one\'s API_<NAME>_* settings, and the roles graph-grants.bicep grants.')
param apis api[]
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
@description('OTLP endpoint for traces and metrics (OTEL_EXPORTER_OTLP_ENDPOINT); empty = none, or the environment agent.')
param otlpEndpoint string = ''
@description('How the worker speaks to otlpEndpoint (OTEL_EXPORTER_OTLP_PROTOCOL). Set with it, so that an agent\'s injected grpc never applies to your endpoint.')
@allowed(['http/protobuf', 'http/json', 'grpc'])
param otlpProtocol string = 'http/protobuf'
@description('Container Apps only: an OTLP destination for the environment\'s managed OpenTelemetry agent; empty = no agent.')
param otelAgentOtlpDestination string = ''
@allowed(['containerapps', 'appservice'])
param hosting string = 'containerapps'

// The production topology: Azure's own file, in the emulator Config.json's entity shape. The local broker's sample
// Config.json (src/local/broker/sample-config.json) is checked against it by test/deployment.
var entities topology = loadJsonContent('topology.json')
var workerQueue = filter(entities.Queues, q => q.Name == queueName)[0]

module bus 'modules/servicebus.bicep' = {
  name: 'servicebus'
  params: { name: name, location: location, queues: entities.Queues, topics: entities.Topics }
}

module identities 'modules/identity.bicep' = {
  name: 'identities'
  params: { name: name, location: location, namespaceName: bus.outputs.namespaceName, queueName: queueName }
}

module acrPull 'modules/acr-pull.bicep' = if (!empty(registryName)) {
  name: 'acr-pull'
  params: { registryName: registryName, principalId: identities.outputs.scalerPrincipalId }
}

// API_<NAME>_BASE_URL and API_<NAME>_SCOPE for every API, and the two optional limits where an API sets them.
func apiSettings(a api) array =>
  concat(
    [
      { name: 'API_${toUpper(a.name)}_BASE_URL', value: a.baseUrl }
      { name: 'API_${toUpper(a.name)}_SCOPE', value: a.scope }
    ],
    a.?concurrency == null ? [] : [{ name: 'API_${toUpper(a.name)}_CONCURRENCY', value: string(a.?concurrency) }],
    a.?rateLimit == null ? [] : [{ name: 'API_${toUpper(a.name)}_RATE_LIMIT', value: a.?rateLimit }]
  )

// Everything the worker reads; each name is checked against the worker's documented variables by
// test/deployment. The identity endpoint (IDENTITY_ENDPOINT/IDENTITY_HEADER) is set by the platform itself.
var workerEnv = concat(
  [
    { name: 'SERVICEBUS_FULLY_QUALIFIED_NAMESPACE', value: bus.outputs.fullyQualifiedNamespace }
    { name: 'SERVICEBUS_ENTITIES', value: queueName }
    { name: 'AZURE_CLIENT_ID', value: identities.outputs.workerClientId }
    { name: 'WORKER_CONCURRENCY', value: string(workerConcurrency) }
    { name: 'WORKER_READ_AHEAD', value: string(workerReadAhead) }
    { name: 'WORKER_SHUTDOWN_GRACE_MS', value: string(shutdownGraceSeconds * 1000) }
    { name: 'WORKER_HEALTH_PORT', value: '8080' }
    // The worker dead-letters on the queue's last delivery itself, with its own description (RetriesExhausted).
    { name: 'WORKER_MAX_DELIVERIES', value: string(workerQueue.Properties.MaxDeliveryCount) }
    { name: 'OTEL_SERVICE_NAME', value: '${name}-worker' }
  ],
  flatten(map(apis, a => apiSettings(a))),
  empty(otlpEndpoint)
    ? []
    : [
        { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: otlpEndpoint }
        { name: 'OTEL_EXPORTER_OTLP_PROTOCOL', value: otlpProtocol }
      ]
)

module containerApp 'modules/containerapp.bicep' = if (hosting == 'containerapps') {
  name: 'containerapp'
  params: {
    name: name
    location: location
    image: image
    registryServer: acrPull.?outputs.loginServer ?? ''
    env: workerEnv
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
    env: workerEnv
    workerIdentityId: identities.outputs.workerIdentityId
    registryIdentityId: empty(registryName) ? '' : identities.outputs.scalerIdentityId
    registryIdentityClientId: empty(registryName) ? '' : identities.outputs.scalerClientId
  }
}

var workerPrincipalId = identities.outputs.workerPrincipalId

output serviceBusNamespace string = bus.outputs.fullyQualifiedNamespace
output queueName string = queueName
output workerIdentityClientId string = identities.outputs.workerClientId
output workerIdentityPrincipalId string = workerPrincipalId
output appName string = '${name}-worker'
output doctor string = hosting == 'containerapps'
  ? 'az containerapp exec -g ${resourceGroup().name} -n ${name}-worker --command "keyless doctor"'
  : 'az webapp ssh -g ${resourceGroup().name} -n ${name}-worker, then: keyless doctor'
// The directory administrator's step (Graph rights, usually someone else than who deploys this): the roles of the
// same apis.json, granted to ${name}-worker-id.
output graphGrants string = 'az deployment group create -g ${resourceGroup().name} -p deploy/graph-grants.bicepparam'
// The same grants one by one, without the Graph Bicep extension.
output keylessGrants string[] = flatten(map(
  apis,
  a => map(a.roles, role => 'keyless grant --identity ${workerPrincipalId} --api ${a.appId} --role ${role}')
))
