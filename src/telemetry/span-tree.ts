import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import type { ReadableSpan, SpanProcessor } from "@opentelemetry/sdk-trace";

import { ATTR } from "./attributes.ts";

const KIND = {
  [SpanKind.INTERNAL]: "",
  [SpanKind.SERVER]: "server",
  [SpanKind.CLIENT]: "client",
  [SpanKind.PRODUCER]: "producer",
  [SpanKind.CONSUMER]: "consumer",
} as const;

const durationMs = (span: ReadableSpan) => span.duration[0] * 1000 + span.duration[1] / 1e6;

function describeSpan(span: ReadableSpan): string {
  const a = span.attributes;
  const notes: string[] = [];
  if (a[ATTR.HTTP_STATUS] !== undefined) notes.push(String(a[ATTR.HTTP_STATUS]));
  if (a[ATTR.KEYLESS_TOKEN_CACHE_HIT] !== undefined)
    notes.push(a[ATTR.KEYLESS_TOKEN_CACHE_HIT] ? "cache hit" : "cache miss");
  if (a[ATTR.KEYLESS_DEAD_LETTER_REASON] !== undefined)
    notes.push(`reason ${String(a[ATTR.KEYLESS_DEAD_LETTER_REASON])}`);
  if (a[ATTR.KEYLESS_OUTCOME] !== undefined) notes.push(String(a[ATTR.KEYLESS_OUTCOME]));
  for (const event of span.events) {
    if (event.name === "retry")
      notes.push(`retry after ${String(event.attributes?.[ATTR.KEYLESS_RETRY_DELAY_MS])} ms`);
  }
  if (span.status.code === SpanStatusCode.ERROR) notes.push("error");
  const kind = KIND[span.kind];
  return `${span.name}${kind ? ` [${kind}]` : ""}${notes.length ? ` (${notes.join(", ")})` : ""}`;
}

/** A compact, indented tree of one trace's spans with durations, parents before children, siblings by start. */
export function formatSpanTree(spans: readonly ReadableSpan[]): string {
  const ids = new Set(spans.map((s) => s.spanContext().spanId));
  const children = new Map<string | undefined, ReadableSpan[]>();
  for (const span of spans) {
    const parent = span.parentSpanContext?.spanId;
    const key = parent && ids.has(parent) ? parent : undefined;
    children.set(key, [...(children.get(key) ?? []), span]);
  }
  const start = (s: ReadableSpan) => s.startTime[0] * 1e9 + s.startTime[1];
  const lines: string[] = [];
  const walk = (parent: string | undefined, prefix: string) => {
    const list = (children.get(parent) ?? []).sort((x, y) => start(x) - start(y));
    list.forEach((span, index) => {
      const last = index === list.length - 1;
      const branch = parent === undefined ? "" : last ? "└─ " : "├─ ";
      lines.push(`${prefix}${branch}${describeSpan(span)}  ${durationMs(span).toFixed(1)} ms`);
      walk(span.spanContext().spanId, parent === undefined ? prefix : `${prefix}${last ? "   " : "│  "}`);
    });
  };
  walk(undefined, "");
  return lines.join("\n");
}

/**
 * Keeps the spans of recent traces in memory and, when a message's `process` span ends, hands its whole trace to
 * `onTrace` (the dev view prints it). Bounded: old traces are dropped.
 */
export class TraceCollector implements SpanProcessor {
  readonly #traces = new Map<string, ReadableSpan[]>();
  readonly #onTrace: (traceId: string, spans: readonly ReadableSpan[]) => void;
  readonly #maxTraces: number;

  constructor(onTrace: (traceId: string, spans: readonly ReadableSpan[]) => void, maxTraces = 500) {
    this.#onTrace = onTrace;
    this.#maxTraces = maxTraces;
  }

  onStart(): void {}

  onEnd(span: ReadableSpan): void {
    const traceId = span.spanContext().traceId;
    const list = this.#traces.get(traceId) ?? [];
    list.push(span);
    this.#traces.set(traceId, list);
    if (this.#traces.size > this.#maxTraces) this.#traces.delete(this.#traces.keys().next().value!);
    if (span.kind === SpanKind.CONSUMER && span.name.startsWith("process ")) {
      // Let spans that end in the same tick (the settlement's parent chain) arrive first.
      setTimeout(() => this.#onTrace(traceId, [...(this.#traces.get(traceId) ?? [])]), 20).unref();
    }
  }

  /** Every span seen for a trace so far. */
  spans(traceId: string): readonly ReadableSpan[] {
    return this.#traces.get(traceId) ?? [];
  }

  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {
    this.#traces.clear();
  }
}
