// The Service Bus namespace and its entities, from the production topology (deploy/topology.json, passed in by
// main.bicep; emulator Config.json property names). Every property is read as stated there: the file states them
// all, so nothing here falls back to a default. Local (SAS) authentication is off: every client, the KEDA scaler
// included, uses Microsoft Entra ID, so no connection string exists.
import { queue as queueSpec, topic as topicSpec } from '../types.bicep'

param name string
param location string
param queues queueSpec[]
param topics topicSpec[]

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' = {
  name: '${name}-${uniqueString(resourceGroup().id)}'
  location: location
  sku: { name: 'Standard', tier: 'Standard' }
  properties: { disableLocalAuth: true, minimumTlsVersion: '1.2' }
}

resource queue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = [
  for q in queues: {
    parent: namespace
    name: q.Name
    properties: {
      lockDuration: q.Properties.LockDuration
      maxDeliveryCount: q.Properties.MaxDeliveryCount
      defaultMessageTimeToLive: q.Properties.DefaultMessageTimeToLive
      deadLetteringOnMessageExpiration: q.Properties.DeadLetteringOnMessageExpiration
      requiresDuplicateDetection: q.Properties.RequiresDuplicateDetection
      duplicateDetectionHistoryTimeWindow: q.Properties.DuplicateDetectionHistoryTimeWindow
      requiresSession: q.Properties.RequiresSession
      // Config.json writes "" for no forwarding; Azure wants the property absent.
      forwardTo: empty(q.Properties.ForwardTo) ? null : q.Properties.ForwardTo
      forwardDeadLetteredMessagesTo: empty(q.Properties.ForwardDeadLetteredMessagesTo)
        ? null
        : q.Properties.ForwardDeadLetteredMessagesTo
    }
  }
]

// One module per topic: its subscriptions and their rules are children of that topic.
module topic 'servicebus-topic.bicep' = [
  for t in topics: {
    name: 'topic-${t.Name}'
    // Forwarding targets (queues) must exist before a subscription names them.
    dependsOn: [queue]
    params: { namespaceName: namespace.name, topic: t }
  }
]

output namespaceName string = namespace.name
output fullyQualifiedNamespace string = '${namespace.name}.servicebus.windows.net'
