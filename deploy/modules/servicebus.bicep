// A Service Bus namespace with the queues of the topology. Local (SAS) auth is off: identities only.
param name string
param location string
param queues array

resource namespace 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' = {
  name: '${name}-${uniqueString(resourceGroup().id)}'
  location: location
  sku: { name: 'Standard', tier: 'Standard' }
  properties: { disableLocalAuth: true, minimumTlsVersion: '1.2' }
}

resource queue 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' = [
  for q in queues: {
    parent: namespace
    name: q.name
    properties: {
      maxDeliveryCount: q.maxDeliveryCount
      lockDuration: q.lockDuration
      deadLetteringOnMessageExpiration: q.deadLetteringOnMessageExpiration
    }
  }
]

output namespaceName string = namespace.name
output fullyQualifiedNamespace string = '${namespace.name}.servicebus.windows.net'
