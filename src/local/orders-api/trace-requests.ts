import {
  context as otelContext,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import type { FastifyInstance } from "fastify";

// OpenTelemetry semantic-convention names, spelled here so the local platform needs nothing of the worker's telemetry.
const TRACER_NAME = "keyless-local";

const spans = new WeakMap<object, Span>();

/**
 * Server spans for a fastify app, continuing the caller's `traceparent`: what lets the sample API's own work appear
 * in the worker's trace. Done with hooks rather than by patching node:http, so it works whatever loaded first.
 */
export function traceHttpServer(app: FastifyInstance, serviceName: string): void {
  app.addHook("onRequest", (request, _reply, done) => {
    const parent = propagation.extract(ROOT_CONTEXT, request.headers, {
      keys: (h) => Object.keys(h),
      get: (h, key) => {
        const value = h[key];
        return Array.isArray(value) ? value[0] : value;
      },
    });
    const route = request.routeOptions.url ?? request.url.split("?")[0];
    const span = trace.getTracer(TRACER_NAME).startSpan(
      `${request.method} ${route}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          "http.request.method": request.method,
          "http.route": route,
          "url.path": request.url.split("?")[0],
          "service.component": serviceName,
        },
      },
      parent,
    );
    spans.set(request, span);
    otelContext.with(trace.setSpan(parent, span), done);
  });
  app.addHook("onResponse", (request, reply, done) => {
    const span = spans.get(request);
    if (span) {
      span.setAttribute("http.response.status_code", reply.statusCode);
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
      spans.delete(request);
    }
    done();
  });
}
