import { metrics } from "@opentelemetry/api";

import { TRACER_NAME } from "./attributes.ts";

const meter = () => metrics.getMeter(TRACER_NAME);

/**
 * The worker's metrics. Instruments come from the global meter provider, so they cost nothing until telemetry is
 * started; they are created lazily because the provider is registered after this module loads.
 */
export const workerMetrics = {
  messages: lazy(() =>
    meter().createCounter("keyless.messages", { description: "settled deliveries by outcome" }),
  ),
  processingDuration: lazy(() =>
    meter().createHistogram("keyless.message.duration", { description: "receipt to settlement", unit: "ms" }),
  ),
  // Observed from the custody when metrics are collected, not counted per message: it holds the number anyway.
  inFlight: lazy(() =>
    meter().createObservableUpDownCounter("keyless.messages.in_flight", {
      description: "messages received and not yet settled",
    }),
  ),
  retries: lazy(() => meter().createCounter("keyless.retries", { description: "in-process retries" })),
  tokenAcquisitions: lazy(() =>
    meter().createCounter("keyless.token.acquisitions", {
      description: "role-scoped token requests by cache hit",
    }),
  ),
  settlements: lazy(() =>
    meter().createCounter("keyless.settlements", {
      description:
        "settlements by path: link, management (fallback by lock token) or lapsed (left to lock expiry)",
    }),
  ),
  tokenOutages: lazy(() =>
    meter().createUpDownCounter("keyless.token.sources_down", {
      description: "token sources (Service Bus, APIs) currently failing to give tokens",
    }),
  ),
  apiCallDuration: lazy(() =>
    meter().createHistogram("keyless.api.duration", {
      description: "API call duration by status",
      unit: "ms",
    }),
  ),
};

function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}
