// Parameters for graph-grants.bicep, the directory administrator's step:
//   az deployment group create -g <resource-group> -p deploy/graph-grants.bicepparam
using 'graph-grants.bicep'

param name = 'keyless'
// The same APIs main.bicepparam deploys the settings for.
param apis = loadJsonContent('apis.json')
