import { type Context, context as otelContext, propagation, ROOT_CONTEXT, trace } from "@opentelemetry/api";

/**
 * The producer's trace context carried by a message: W3C `traceparent` (and `tracestate`) application properties,
 * or `Diagnostic-Id`, which @azure/service-bus writes (in traceparent format) when its tracing is on.
 * Returns undefined when the message carries none.
 */
export function producerContext(
  applicationProperties: Readonly<Record<string, unknown>> | undefined,
): Context | undefined {
  if (!applicationProperties) return undefined;
  const carrier = {
    traceparent:
      stringOf(applicationProperties.traceparent) ?? stringOf(applicationProperties["Diagnostic-Id"]),
    tracestate: stringOf(applicationProperties.tracestate),
  };
  if (!carrier.traceparent) return undefined;
  const extracted = propagation.extract(ROOT_CONTEXT, carrier, {
    keys: (c) => Object.keys(c),
    get: (c, key) => c[key as keyof typeof c],
  });
  return trace.getSpanContext(extracted) ? extracted : undefined;
}

/** Application properties that carry the active trace context, for messages we enqueue. */
export function traceProperties(ctx: Context = otelContext.active()): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  if (carrier.traceparent) carrier["Diagnostic-Id"] = carrier.traceparent;
  return carrier;
}

function stringOf(value: unknown): string | undefined {
  return typeof value === "string" && value.length > 0 ? value : undefined;
}
