// The worker on App Service (Linux container): Always On (a background worker must not idle out) and a health
// check path; the same identity and settings as on Container Apps. Scale-out is manual or by autoscale rules.
param name string
param location string
param image string
param env array
param workerIdentityId string

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  name: '${name}-plan'
  location: location
  kind: 'linux'
  sku: { name: 'P0v3' }
  properties: { reserved: true }
}

resource site 'Microsoft.Web/sites@2023-12-01' = {
  name: '${name}-worker'
  location: location
  identity: { type: 'UserAssigned', userAssignedIdentities: { '${workerIdentityId}': {} } }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      linuxFxVersion: 'DOCKER|${image}'
      alwaysOn: true
      healthCheckPath: '/healthz'
      appCommandLine: 'run'
      appSettings: concat(env, [{ name: 'WEBSITES_PORT', value: '8080' }])
    }
  }
}
