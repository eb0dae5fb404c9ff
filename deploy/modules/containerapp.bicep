// The worker on Azure Container Apps: scale from 0 on the queue's backlog with a KEDA azure-servicebus rule that
// authenticates with a managed identity (no connection string), probes on the health endpoints, and a termination
// grace period longer than the worker's drain.
param name string
param location string
param image string
param env array
param workerIdentityId string
param scalerIdentityId string
param namespaceName string
param queueName string
param messagesPerReplica int
param maxReplicas int
param terminationGracePeriodSeconds int

resource environment 'Microsoft.App/managedEnvironments@2024-03-01' = {
  name: '${name}-env'
  location: location
  properties: {}
}

resource app 'Microsoft.App/containerApps@2024-10-02-preview' = {
  name: '${name}-worker'
  location: location
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${workerIdentityId}': {}, '${scalerIdentityId}': {} }
  }
  properties: {
    environmentId: environment.id
    configuration: { activeRevisionsMode: 'Single' }
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
            { type: 'Liveness', httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 15 }
            { type: 'Readiness', httpGet: { path: '/readyz', port: 8080 }, periodSeconds: 10 }
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
