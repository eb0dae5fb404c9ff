// The worker on App Service (Linux container): Always On (a background worker with no HTTP traffic must not be
// unloaded), a health check path, the same identity and settings as on Container Apps. App Service has no
// queue-driven scaler; instances are set on the plan (or by Azure Monitor autoscale rules you add).
param name string
param location string
param image string
param env array
param workerIdentityId string
@description('Identity that pulls the image from the registry (AcrPull); empty = a public image.')
param registryIdentityId string
param registryIdentityClientId string

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  name: '${name}-plan'
  location: location
  kind: 'linux'
  sku: { name: 'P0v3' }
  properties: { reserved: true }
}

var identities = empty(registryIdentityId)
  ? { '${workerIdentityId}': {} }
  : { '${workerIdentityId}': {}, '${registryIdentityId}': {} }

resource site 'Microsoft.Web/sites@2023-12-01' = {
  name: '${name}-worker'
  location: location
  kind: 'app,linux,container'
  identity: { type: 'UserAssigned', userAssignedIdentities: identities }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      linuxFxVersion: 'DOCKER|${image}'
      alwaysOn: true
      healthCheckPath: '/healthz'
      acrUseManagedIdentityCreds: !empty(registryIdentityId)
      acrUserManagedIdentityID: empty(registryIdentityClientId) ? null : registryIdentityClientId
      // WEBSITES_PORT is App Service's own setting: the container port its health check calls.
      appSettings: concat(env, [{ name: 'WEBSITES_PORT', value: '8080' }])
    }
  }
}
