// Types shared by the templates: the `apis` array main.bicep and graph-grants.bicep both read, and the production
// topology (topology.json) the Service Bus modules deploy.

@export()
@description('A protected API the worker calls: its app settings (API_<NAME>_*) and the app roles the worker holds on it.')
type api = {
  @description('Short name; the worker reads API_<NAME>_BASE_URL etc. with it upper-cased (orders → API_ORDERS_*).')
  @minLength(1)
  name: string

  @description('Base URL the handlers call (API_<NAME>_BASE_URL).')
  baseUrl: string

  @description('One app-only scope, e.g. api://<appId>/.default (API_<NAME>_SCOPE).')
  scope: string

  @description('The API\'s application (client) id: graph-grants.bicep finds its service principal by it.')
  appId: string

  @description('Values of the API\'s app roles the worker identity holds, e.g. Orders.Read (case-sensitive).')
  roles: string[]

  @description('Optional: most handlers of this API running at once (API_<NAME>_CONCURRENCY).')
  concurrency: int?

  @description('Optional: calls per interval, e.g. 10/1s (API_<NAME>_RATE_LIMIT).')
  rateLimit: string?
}

// The production topology (topology.json) in the emulator Config.json's entity shape. Every property is required,
// so nothing falls back to a default: the compiler, or at the latest the parameter check of the deployment (and of
// `bicep snapshot`), rejects a missing one, or a rule without its filter. A property the templates do not deploy is
// rejected by test/deployment (the compiler does not check @sealed on values from loadJsonContent).

@export()
@sealed()
type topology = {
  @description('What the file is, for its readers.')
  description: string?
  Queues: queue[]
  Topics: topic[]
}

@export()
@sealed()
type queue = {
  Name: string
  Properties: {
    DeadLetteringOnMessageExpiration: bool
    DefaultMessageTimeToLive: string
    DuplicateDetectionHistoryTimeWindow: string
    @description('"" = no forwarding.')
    ForwardDeadLetteredMessagesTo: string
    @description('"" = no forwarding.')
    ForwardTo: string
    LockDuration: string
    @minValue(1)
    MaxDeliveryCount: int
    RequiresDuplicateDetection: bool
    RequiresSession: bool
  }
}

@export()
@sealed()
type topic = {
  Name: string
  Properties: {
    DefaultMessageTimeToLive: string
    DuplicateDetectionHistoryTimeWindow: string
    RequiresDuplicateDetection: bool
  }
  Subscriptions: subscription[]
}

@sealed()
type subscription = {
  Name: string
  Properties: {
    DeadLetteringOnMessageExpiration: bool
    DefaultMessageTimeToLive: string
    ForwardDeadLetteredMessagesTo: string
    ForwardTo: string
    LockDuration: string
    @minValue(1)
    MaxDeliveryCount: int
    RequiresSession: bool
  }
  @description('Only messages matching one of these; none = all messages (Azure\'s $Default rule).')
  Rules: rule[]
}

@export()
@sealed()
type rule = {
  Name: string
  Properties: ruleProperties
}

@discriminator('FilterType')
type ruleProperties = correlationRule | sqlRule

@export()
@sealed()
type correlationRule = {
  FilterType: 'Correlation'
  CorrelationFilter: correlationFilter
  Action: { SqlExpression: string }?
}

@export()
@sealed()
type sqlRule = {
  FilterType: 'Sql'
  SqlFilter: { SqlExpression: string }
  Action: { SqlExpression: string }?
}

@export()
@sealed()
@description('Config.json names: Azure\'s with a capital first letter.')
type correlationFilter = {
  ContentType: string?
  CorrelationId: string?
  Label: string?
  MessageId: string?
  ReplyTo: string?
  ReplyToSessionId: string?
  SessionId: string?
  To: string?
  @description('Application properties to match.')
  Properties: object?
}
