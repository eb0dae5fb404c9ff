import { randomUUID } from "node:crypto";

import type { ServiceBusClient, ServiceBusMessage, ServiceBusMessageBatch } from "@azure/service-bus";

import { ATTR, SERVICEBUS_SYSTEM } from "../telemetry/attributes.ts";
import { traceProperties } from "../telemetry/message-context.ts";
import { SpanKind, withSpan } from "../telemetry/span.ts";
import type { Progress } from "./progress.ts";

/** One message to send, before `{n}` is filled in. Fields left out fall back to the command-line flags. */
export interface MessageTemplate {
  readonly body: unknown;
  readonly subject?: string;
  readonly applicationProperties?: Record<string, string | number | boolean>;
  readonly sessionId?: string;
  readonly messageId?: string;
  readonly correlationId?: string;
  readonly contentType?: string;
  readonly scheduledEnqueueTimeUtc?: string;
}

const ENVELOPE_KEYS = new Set([
  "body",
  "subject",
  "applicationProperties",
  "sessionId",
  "messageId",
  "correlationId",
  "contentType",
  "scheduledEnqueueTimeUtc",
]);

/**
 * Reads JSON lines. A line that is an object with a `body` key and only envelope keys (subject,
 * applicationProperties, sessionId, messageId, correlationId, contentType, scheduledEnqueueTimeUtc) is an envelope;
 * any other JSON value is the body itself. Blank lines and lines starting with # or // are skipped.
 */
export function parseJsonLines(text: string, source: string): MessageTemplate[] {
  const templates: MessageTemplate[] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith("#") || trimmed.startsWith("//")) return;
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (error) {
      throw new Error(`${source}:${index + 1}: not JSON: ${(error as Error).message}`, { cause: error });
    }
    templates.push(asTemplate(value));
  });
  if (templates.length === 0) throw new Error(`${source}: no messages (one JSON value per line)`);
  return templates;
}

function asTemplate(value: unknown): MessageTemplate {
  const isEnvelope =
    value !== null &&
    typeof value === "object" &&
    !Array.isArray(value) &&
    "body" in value &&
    Object.keys(value).every((k) => ENVELOPE_KEYS.has(k));
  return isEnvelope ? (value as MessageTemplate) : { body: value };
}

export interface SendDefaults {
  readonly subject?: string;
  readonly applicationProperties?: Record<string, string>;
  readonly sessionId?: string;
  readonly scheduledAt?: Date;
  readonly contentType?: string;
}

/** Replaces every `{n}` with the message's sequence number (1-based) in strings anywhere in the value. */
export function fillSequence<T>(value: T, n: number): T {
  if (typeof value === "string") return value.replaceAll("{n}", String(n)) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => fillSequence(v, n)) as T;
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fillSequence(v, n)])) as T;
  }
  return value;
}

/** Message `n` (1-based) of a run: template `n-1` modulo the templates, `{n}` filled in, flags as defaults. */
export function buildMessage(
  templates: readonly MessageTemplate[],
  n: number,
  defaults: SendDefaults,
  trace: Record<string, string>,
): ServiceBusMessage {
  const t = fillSequence(templates[(n - 1) % templates.length]!, n);
  const scheduled = t.scheduledEnqueueTimeUtc ? new Date(t.scheduledEnqueueTimeUtc) : defaults.scheduledAt;
  if (scheduled && Number.isNaN(scheduled.getTime())) {
    throw new Error(`message ${n}: scheduledEnqueueTimeUtc "${t.scheduledEnqueueTimeUtc}" is not a date`);
  }
  const subject = t.subject ?? (defaults.subject ? fillSequence(defaults.subject, n) : undefined);
  const sessionId = t.sessionId ?? defaults.sessionId;
  const contentType = t.contentType ?? defaults.contentType ?? "application/json";
  return {
    body: t.body,
    messageId: t.messageId ?? randomUUID(),
    contentType,
    ...(subject ? { subject } : {}),
    ...(sessionId ? { sessionId } : {}),
    ...(t.correlationId ? { correlationId: t.correlationId } : {}),
    ...(scheduled ? { scheduledEnqueueTimeUtc: scheduled } : {}),
    // The producer's trace context first, so a message's own properties (or --property) can still say otherwise.
    applicationProperties: {
      ...trace,
      ...fillSequence(defaults.applicationProperties ?? {}, n),
      ...t.applicationProperties,
    },
  };
}

export interface SendRun {
  readonly entity: string;
  readonly templates: readonly MessageTemplate[];
  readonly count: number;
  /** Messages per second; undefined = as fast as batches go. */
  readonly ratePerSecond?: number;
  readonly defaults: SendDefaults;
  readonly progress?: Progress;
  readonly signal?: AbortSignal;
}

export interface SendSummary {
  readonly entity: string;
  readonly sent: number;
  readonly batches: number;
  readonly durationMs: number;
  readonly traceId: string | undefined;
  /** Every message id when there are at most 1000; otherwise the first and last. */
  readonly messageIds: readonly string[];
  readonly interrupted: boolean;
}

/**
 * Sends `count` messages in batches (createMessageBatch, so each stays under the entity's size limit), at most
 * `ratePerSecond` a second, inside one PRODUCER span whose context every message carries (traceparent and
 * Diagnostic-Id), so the worker's processing joins the producer's trace. Stops by itself after `count` or when
 * `signal` aborts (between batches: nothing is half-sent).
 */
export async function sendRun(client: ServiceBusClient, run: SendRun): Promise<SendSummary> {
  if (
    run.templates.some((t) => t.messageId && !t.messageId.includes("{n}")) &&
    run.count > run.templates.length
  ) {
    throw new Error(
      'a line sets messageId without {n} but --count repeats lines: ids must be unique (use e.g. "order-{n}")',
    );
  }
  return withSpan(
    `send ${run.entity}`,
    {
      kind: SpanKind.PRODUCER,
      attributes: () => ({
        [ATTR.MESSAGING_SYSTEM]: SERVICEBUS_SYSTEM,
        [ATTR.MESSAGING_OPERATION_TYPE]: "send",
        [ATTR.MESSAGING_DESTINATION]: run.entity,
        [ATTR.MESSAGING_BATCH_COUNT]: run.count,
      }),
    },
    async (span) => {
      const started = Date.now();
      const stamp = traceProperties();
      const sender = client.createSender(run.entity);
      const ids: string[] = [];
      let sent = 0;
      let batches = 0;
      let interrupted = false;
      try {
        let n = 1;
        while (n <= run.count) {
          if (run.signal?.aborted) {
            interrupted = true;
            break;
          }
          // With a rate, send what is due by now (message n is due at started + (n-1)/rate s), then wait.
          const dueUntil = run.ratePerSecond
            ? Math.min(run.count, Math.floor(((Date.now() - started) / 1000) * run.ratePerSecond) + 1)
            : run.count;
          if (dueUntil < n) {
            const wait = started + ((n - 1) / run.ratePerSecond!) * 1000 - Date.now();
            // Wake at most every 50 ms: due messages then go out in one batch rather than one batch each.
            await sleep(Math.max(50, wait), run.signal);
            continue;
          }
          const batch: ServiceBusMessageBatch = await sender.createMessageBatch();
          while (n <= dueUntil) {
            const message = buildMessage(run.templates, n, run.defaults, stamp);
            if (!batch.tryAddMessage(message)) {
              if (batch.count === 0) {
                throw new Error(
                  `message ${n} is larger than the entity allows (${batch.maxSizeInBytes} bytes)`,
                );
              }
              break;
            }
            ids.push(String(message.messageId));
            n += 1;
          }
          await sender.sendMessages(batch);
          batches += 1;
          sent += batch.count;
          run.progress?.update(sent);
        }
      } finally {
        run.progress?.finish();
        await sender.close().catch(() => undefined);
      }
      span.setAttribute("messaging.batch.message_count", sent);
      return {
        entity: run.entity,
        sent,
        batches,
        durationMs: Date.now() - started,
        traceId: stamp.traceparent ? span.spanContext().traceId : undefined,
        messageIds: ids.length <= 1000 ? ids : [ids[0]!, ids.at(-1)!],
        interrupted,
      };
    },
  );
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
