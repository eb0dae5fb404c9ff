// Example parameters for main.bicep: set your values (or copy this file), then
//   az deployment group create -g <resource-group> -p deploy/main.bicepparam
using 'main.bicep'

param name = 'keyless'
param image = 'myregistry.azurecr.io/keyless-worker:1.0.0'
param registryName = 'myregistry'
// The APIs the handlers call; graph-grants.bicepparam grants their roles from the same file.
param apis = loadJsonContent('apis.json')
param workerConcurrency = 8
param maxReplicas = 10
