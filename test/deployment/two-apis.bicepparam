// Parameters for a snapshot test/deployment reads (test/deployment/two-apis.snapshot.json, kept current by
// .ci/bicep): two APIs, the optional limits on one, an OTLP endpoint, on App Service — what deploy/main.bicepparam
// does not cover.
using '../../deploy/main.bicep'

param image = 'myregistry.azurecr.io/keyless-worker:1.0.0'
param hosting = 'appservice'
param apis = [
  {
    name: 'orders'
    baseUrl: 'https://orders.contoso.com/'
    scope: 'api://568c0ca2-0405-43bd-8d4c-bfdfd3f66f42/.default'
    appId: '568c0ca2-0405-43bd-8d4c-bfdfd3f66f42'
    roles: ['Orders.Read', 'Orders.Fulfil']
  }
  {
    name: 'inventory'
    baseUrl: 'https://inventory.contoso.com/v2/'
    scope: 'api://inventory.contoso.com/.default'
    appId: '0b6f6a3e-6c1f-4a57-9a34-7d0c9f3e21aa'
    roles: ['Stock.Reserve']
    concurrency: 4
    rateLimit: '10/1s'
  }
]
// A collector of the team's own, over gRPC: the protocol is set beside the endpoint.
param otlpEndpoint = 'https://otel-collector.contoso.com:4317'
param otlpProtocol = 'grpc'
