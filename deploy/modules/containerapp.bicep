// The worker on Azure Container Apps: scale from 0 on the queue's backlog with a KEDA azure-servicebus rule that
// authenticates with a managed identity (no connection string), probes on the health endpoints, a termination
// grace period longer than the worker's drain, and optionally the environment's managed OpenTelemetry agent.
param name string
param location string
param image string
@description('Login server of the registry to pull from with the scaler (platform) identity; empty = public image.')
param registryServer string
param env array
param workerIdentityId string
param scalerIdentityId string
param namespaceName string
param queueName string
param messagesPerReplica int
param maxReplicas int
param terminationGracePeriodSeconds int
param otelAgentOtlpDestination string

// 2024-02-02-preview is the API version the Container Apps docs name for managed identity in scale rules
// (`identity` on a custom rule); openTelemetryConfiguration exists since 2023-11-02-preview.
resource environment 'Microsoft.App/managedEnvironments@2024-02-02-preview' = {
  name: '${name}-env'
  location: location
  properties: empty(otelAgentOtlpDestination)
    ? {}
    : {
        openTelemetryConfiguration: {
          destinationsConfiguration: {
            otlpConfigurations: [{ name: 'otlp', endpoint: otelAgentOtlpDestination, insecure: false }]
          }
          tracesConfiguration: { destinations: ['otlp'] }
          metricsConfiguration: { destinations: ['otlp'] }
        }
      }
}

resource app 'Microsoft.App/containerApps@2024-02-02-preview' = {
  name: '${name}-worker'
  location: location
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${workerIdentityId}': {}, '${scalerIdentityId}': {} }
  }
  properties: {
    environmentId: environment.id
    configuration: {
      activeRevisionsMode: 'Single'
      registries: empty(registryServer) ? [] : [{ server: registryServer, identity: scalerIdentityId }]
    }
    template: {
      terminationGracePeriodSeconds: terminationGracePeriodSeconds
      containers: [
        {
          name: 'worker'
          image: image
          args: ['run']
          env: env
          resources: { cpu: json('0.5'), memory: '1Gi' }
          probes: [
            { type: 'Liveness', httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 15, failureThreshold: 3 }
            { type: 'Readiness', httpGet: { path: '/readyz', port: 8080 }, periodSeconds: 10, failureThreshold: 3 }
          ]
        }
      ]
      scale: {
        minReplicas: 0
        maxReplicas: maxReplicas
        rules: [
          {
            name: 'servicebus-backlog'
            custom: {
              type: 'azure-servicebus'
              // A user-assigned identity's resource id (or 'system'): KEDA authenticates with it, no `auth` secret.
              identity: scalerIdentityId
              metadata: {
                namespace: namespaceName
                queueName: queueName
                messageCount: string(messagesPerReplica)
              }
            }
          }
        ]
      }
    }
  }
}
