import {
  type Attributes,
  type Context,
  context as otelContext,
  type Link,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
  type TracerProvider,
} from "@opentelemetry/api";

import { TRACER_NAME } from "./attributes.ts";

export interface SpanOptions {
  kind?: SpanKind;
  /**
   * Made only for a span that records: one sampled out, or any with telemetry off, costs no attribute object (this
   * runs for every message). They are set just after the span starts, not given to the sampler: the samplers
   * OTEL_TRACES_SAMPLER offers decide by trace id and parent alone.
   */
  attributes?: () => Attributes;
  links?: Link[];
  /** Parent context; default: the active one. */
  parent?: Context;
  /** Errors that are expected outcomes (a dead-letter for a bad body): recorded as events, status stays unset. */
  isExpectedError?: (error: unknown) => boolean;
}

/**
 * The one way the worker makes a span: runs `fn` inside it, marks failures as errors (or, for expected outcomes,
 * records them without failing the span), and always ends it.
 */
export function withSpan<T>(name: string, options: SpanOptions, fn: (span: Span) => Promise<T>): Promise<T> {
  const parent = options.parent ?? otelContext.active();
  // A trace the sampler left out here already: its children would be left out too (the samplers OTEL_TRACES_SAMPLER
  // offers decide by trace id and parent alone), so none is made. `fn` runs in the context it is in, which still
  // carries the trace and its not-sampled flag to the APIs. This spares the settle and API spans of every message a
  // ratio sampler leaves out.
  const parentSpan = options.parent === undefined ? trace.getSpan(parent) : undefined;
  if (parentSpan && isLeftOut(parentSpan)) return fn(parentSpan);
  const span = tracer().startSpan(
    name,
    { kind: options.kind ?? SpanKind.INTERNAL, links: options.links },
    parent,
  );
  if (options.attributes && span.isRecording()) span.setAttributes(options.attributes());
  // Nothing records it, and nothing below could read it from a context: `fn` runs as it is, without the context,
  // the async frame and the extra turns of the recording path (this runs twice for every message).
  if (isInert(span)) return fn(span);
  return inSpan(span, parent, options, fn);
}

async function inSpan<T>(
  span: Span,
  parent: Context,
  options: SpanOptions,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  try {
    return await otelContext.with(trace.setSpan(parent, span), () => fn(span));
  } catch (error) {
    const err = error instanceof Error ? error : new Error(String(error));
    if (options.isExpectedError?.(error)) {
      span.addEvent("expected_failure", { "exception.type": err.name, "exception.message": err.message });
    } else {
      span.recordException(err);
      span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
      span.setAttribute("error.type", err.name);
    }
    throw error;
  } finally {
    span.end();
  }
}

/**
 * A span of no tracer and no parent (telemetry off, or a no-op span that came from nowhere): neither it nor anything
 * under it is recorded or propagated, so whatever is there only to trace (a context, a suppression) can be skipped.
 */
export function isInert(span: Span): boolean {
  return !span.isRecording() && !trace.isSpanContextValid(span.spanContext());
}

/** A span of this process that the sampler chose not to record (not one carried in from a producer). */
function isLeftOut(span: Span): boolean {
  const spanContext = span.spanContext();
  return !span.isRecording() && spanContext.isRemote !== true && trace.isSpanContextValid(spanContext);
}

/**
 * The tracer of whichever provider is registered now. Asked for once per provider, not once per span: with none
 * registered, `trace.getTracer` makes a new proxy each time.
 */
let cached: { provider: TracerProvider; tracer: Tracer } | undefined;
function tracer(): Tracer {
  const provider = trace.getTracerProvider();
  const delegate = "getDelegate" in provider ? (provider.getDelegate as () => TracerProvider)() : provider;
  if (cached?.provider !== delegate) cached = { provider: delegate, tracer: delegate.getTracer(TRACER_NAME) };
  return cached.tracer;
}

export { SpanKind };
