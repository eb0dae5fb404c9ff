import { context, type Context } from "@opentelemetry/api";
import { isTracingSuppressed } from "@opentelemetry/core";
import type { Instrumenter, TracingSpan } from "@azure/core-tracing";

/**
 * The Azure SDK's spans: Microsoft's OpenTelemetry instrumenter, installed into @azure/core-tracing, with one
 * shortcut. The worker suppresses the SDK's own span around each message (`StreamReceiver.process`, the settlement:
 * ours stand for them), and Microsoft's instrumenter still does the whole of a span's work there (a tracer lookup,
 * two environment reads, a span the SDK then drops, new contexts). Where tracing is suppressed, this one hands back
 * a span that records nothing and the context as it was given.
 *
 * `patch` is the instrumentation's own module patch (AzureSdkInstrumentation's module definition); it is given a
 * stand-in of the module so that the instrumenter it installs can be wrapped before it reaches the real one.
 */
export function installAzureSdkSpans(
  coreTracing: { useInstrumenter(instrumenter: Instrumenter): void },
  patch: (moduleExports: { useInstrumenter(instrumenter: Instrumenter): void }) => unknown,
): void {
  let microsoft: Instrumenter | undefined;
  patch({ useInstrumenter: (instrumenter) => (microsoft = instrumenter) });
  if (!microsoft) throw new Error("the Azure SDK instrumentation installed no instrumenter");
  coreTracing.useInstrumenter(skippingSuppressed(microsoft));
}

function skippingSuppressed(inner: Instrumenter): Instrumenter {
  return {
    startSpan(name, spanOptions) {
      const tracingContext = (spanOptions.tracingContext as Context | undefined) ?? context.active();
      if (isTracingSuppressed(tracingContext)) return { span: NOT_RECORDED, tracingContext };
      return inner.startSpan(name, spanOptions);
    },
    withContext: (tracingContext, callback, ...callbackArgs) =>
      inner.withContext(tracingContext, callback, ...callbackArgs),
    parseTraceparentHeader: (header) => inner.parseTraceparentHeader(header),
    createRequestHeaders: (tracingContext) => inner.createRequestHeaders(tracingContext),
  };
}

const NOT_RECORDED: TracingSpan = {
  setStatus() {},
  setAttribute() {},
  end() {},
  recordException() {},
  isRecording: () => false,
  addEvent() {},
};
