/**
 * Span and metric attribute names in one place. Messaging names follow OpenTelemetry semantic conventions 1.45
 * (the incubating entry point holds them, so we keep our own constants rather than importing experimental ones).
 */
export const ATTR = {
  MESSAGING_SYSTEM: "messaging.system.name",
  MESSAGING_OPERATION_TYPE: "messaging.operation.type",
  MESSAGING_OPERATION_NAME: "messaging.operation.name",
  MESSAGING_DESTINATION: "messaging.destination.name",
  MESSAGING_SUBSCRIPTION: "messaging.destination.subscription.name",
  MESSAGING_MESSAGE_ID: "messaging.message.id",
  MESSAGING_CONVERSATION_ID: "messaging.message.conversation_id",
  MESSAGING_BATCH_COUNT: "messaging.batch.message_count",
  SERVICEBUS_DELIVERY_COUNT: "azure.servicebus.message.delivery_count",
  SERVICEBUS_ENQUEUED_TIME: "azure.servicebus.message.enqueued_time",
  SERVICEBUS_DISPOSITION: "azure.servicebus.disposition_status",
  /** No semantic convention names a Service Bus session yet: ours, beside the azure.servicebus.message.* ones. */
  SERVICEBUS_SESSION_ID: "azure.servicebus.message.session.id",
  SERVER_ADDRESS: "server.address",
  ERROR_TYPE: "error.type",
  HTTP_METHOD: "http.request.method",
  HTTP_STATUS: "http.response.status_code",
  URL_FULL: "url.full",
  KEYLESS_HANDLER: "keyless.handler",
  KEYLESS_ATTEMPT: "keyless.attempt",
  KEYLESS_OUTCOME: "keyless.outcome",
  KEYLESS_DEAD_LETTER_REASON: "keyless.dead_letter.reason",
  KEYLESS_API: "keyless.api.name",
  KEYLESS_SCOPE: "keyless.api.scope",
  KEYLESS_TOKEN_CACHE_HIT: "keyless.token.cache_hit",
  KEYLESS_RETRY_DELAY_MS: "keyless.retry.delay_ms",
  KEYLESS_RETRY_REASON: "keyless.retry.reason",
  KEYLESS_SETTLE_PATH: "keyless.settle.path",
  KEYLESS_TOKEN_SOURCE: "keyless.token.source",
} as const;

export const SERVICEBUS_SYSTEM = "azure.servicebus";
export const TRACER_NAME = "keyless-worker";
