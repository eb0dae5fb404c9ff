import {
  type Attributes,
  type Context,
  context as otelContext,
  type Link,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";

import { TRACER_NAME } from "./attributes.ts";

export interface SpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
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
export async function withSpan<T>(
  name: string,
  options: SpanOptions,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const tracer = trace.getTracer(TRACER_NAME);
  const parent = options.parent ?? otelContext.active();
  const span = tracer.startSpan(
    name,
    { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes, links: options.links },
    parent,
  );
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

export { SpanKind };
