// One topic of the production topology with its subscriptions and their rules (emulator Config.json shape).
import { correlationFilter, rule as ruleSpec, topic as topicSpec } from '../types.bicep'

param namespaceName string
param topic topicSpec

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' existing = {
  name: namespaceName
}

resource entity 'Microsoft.ServiceBus/namespaces/topics@2024-01-01' = {
  parent: namespace
  name: topic.Name
  properties: {
    defaultMessageTimeToLive: topic.Properties.DefaultMessageTimeToLive
    requiresDuplicateDetection: topic.Properties.RequiresDuplicateDetection
    duplicateDetectionHistoryTimeWindow: topic.Properties.DuplicateDetectionHistoryTimeWindow
  }
}

var subscriptions = topic.Subscriptions

resource subscription 'Microsoft.ServiceBus/namespaces/topics/subscriptions@2024-01-01' = [
  for s in subscriptions: {
    parent: entity
    name: s.Name
    properties: {
      lockDuration: s.Properties.LockDuration
      maxDeliveryCount: s.Properties.MaxDeliveryCount
      defaultMessageTimeToLive: s.Properties.DefaultMessageTimeToLive
      deadLetteringOnMessageExpiration: s.Properties.DeadLetteringOnMessageExpiration
      requiresSession: s.Properties.RequiresSession
      forwardTo: empty(s.Properties.ForwardTo) ? null : s.Properties.ForwardTo
      forwardDeadLetteredMessagesTo: empty(s.Properties.ForwardDeadLetteredMessagesTo)
        ? null
        : s.Properties.ForwardDeadLetteredMessagesTo
    }
  }
]

// Config.json's filter fields are Azure's with a capital first letter (Label → label, CorrelationId → correlationId).
func armCorrelation(filter correlationFilter) object =>
  toObject(items(filter), f => '${toLower(substring(f.key, 0, 1))}${substring(f.key, 1)}', f => f.value)

func armRule(rule ruleSpec) object =>
  union(
    rule.Properties.FilterType == 'Sql'
      ? { filterType: 'SqlFilter', sqlFilter: { sqlExpression: rule.Properties.SqlFilter.SqlExpression } }
      : { filterType: 'CorrelationFilter', correlationFilter: armCorrelation(rule.Properties.CorrelationFilter) },
    contains(rule.Properties, 'Action') ? { action: { sqlExpression: rule.Properties.Action.SqlExpression } } : {}
  )

// Azure gives every new subscription a $Default rule that matches everything, and declaring other rules does not
// remove it (pulumi/pulumi-azure-native#4489, hashicorp/terraform-provider-azurerm#32452). Config.json means "only
// these rules", as the local broker and the emulator apply it, so a subscription with rules gets its $Default
// replaced by one that matches nothing (1=0) — unless the topology names a $Default rule itself.
var rules = flatten(map(range(0, length(subscriptions)), i => map(subscriptions[i].Rules, r => { subscription: i, rule: r })))
var defaultsToClose = filter(
  range(0, length(subscriptions)),
  i => !empty(subscriptions[i].Rules) && empty(filter(subscriptions[i].Rules, r => r.Name == '$Default'))
)

resource rule 'Microsoft.ServiceBus/namespaces/topics/subscriptions/rules@2024-01-01' = [
  for r in rules: {
    parent: subscription[r.subscription]
    name: r.rule.Name
    properties: armRule(r.rule)
  }
]

resource closedDefault 'Microsoft.ServiceBus/namespaces/topics/subscriptions/rules@2024-01-01' = [
  for i in defaultsToClose: {
    parent: subscription[i]
    name: '$Default'
    properties: { filterType: 'SqlFilter', sqlFilter: { sqlExpression: '1=0' } }
  }
]
