// The Service Bus namespace and its queues, taken from the same Config.json the local broker and the official
// emulator read (main.bicep passes its queues in, emulator property names unchanged). Local (SAS) authentication
// is off: every client, the KEDA scaler included, uses Microsoft Entra ID, so no connection string exists.
param name string
param location string
@description('Queues in the emulator Config.json shape: [{ Name, Properties: { LockDuration, MaxDeliveryCount, … } }]')
param queues array

resource namespace 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' = {
  name: '${name}-${uniqueString(resourceGroup().id)}'
  location: location
  sku: { name: 'Standard', tier: 'Standard' }
  properties: { disableLocalAuth: true, minimumTlsVersion: '1.2' }
}

// Values the Config.json leaves out get Service Bus' own defaults.
resource queue 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' = [
  for q in queues: {
    parent: namespace
    name: q.Name
    properties: {
      lockDuration: q.Properties.?LockDuration ?? 'PT1M'
      maxDeliveryCount: q.Properties.?MaxDeliveryCount ?? 10
      defaultMessageTimeToLive: q.Properties.?DefaultMessageTimeToLive ?? 'P14D'
      deadLetteringOnMessageExpiration: q.Properties.?DeadLetteringOnMessageExpiration ?? false
      requiresDuplicateDetection: q.Properties.?RequiresDuplicateDetection ?? false
      duplicateDetectionHistoryTimeWindow: q.Properties.?DuplicateDetectionHistoryTimeWindow ?? 'PT10M'
      requiresSession: q.Properties.?RequiresSession ?? false
    }
  }
]

output namespaceName string = namespace.name
output fullyQualifiedNamespace string = '${namespace.name}.servicebus.windows.net'
