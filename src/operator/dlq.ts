import { randomUUID } from "node:crypto";

import type {
  ServiceBusClient,
  ServiceBusMessage,
  ServiceBusReceivedMessage,
  ServiceBusReceiver,
} from "@azure/service-bus";

import { entityParts } from "./service-bus.ts";

export interface DeadLetterRow {
  readonly sequenceNumber: string;
  readonly messageId: string;
  readonly subject: string | undefined;
  readonly reason: string | undefined;
  readonly description: string | undefined;
  /**
   * How many times the message was delivered, as people count (and .NET and the portal show it): a message
   * dead-lettered on its first delivery shows 1. Service Bus writes deliveries − 1 into AMQP's delivery-count and the
   * JS SDK passes that on as `deliveryCount`, so this is deliveryCount + 1. (A message that expired into the
   * dead-letter queue without ever being delivered shows 1 too: the wire cannot tell the two apart.)
   */
  readonly deliveries: number | undefined;
  readonly enqueuedAt: string | undefined;
  /** Since the message was first enqueued (dead-lettering keeps that time). */
  readonly ageMs: number | undefined;
}

export interface DlqFilter {
  /** Only messages dead-lettered with this reason (exact, case-insensitive). */
  readonly reason?: string;
  /** At most this many messages (default 100 for list, all for resubmit/purge). */
  readonly max?: number;
}

const matches = (m: ServiceBusReceivedMessage, filter: DlqFilter) =>
  filter.reason === undefined || (m.deadLetterReason ?? "").toLowerCase() === filter.reason.toLowerCase();

const deadLetterReceiver = (
  client: ServiceBusClient,
  entity: string,
  mode: "peekLock" | "receiveAndDelete",
) => {
  const parts = entityParts(entity);
  return "queue" in parts
    ? client.createReceiver(parts.queue, { subQueueType: "deadLetter", receiveMode: mode })
    : client.createReceiver(parts.topic, parts.subscription, {
        subQueueType: "deadLetter",
        receiveMode: mode,
      });
};

export function toRow(m: ServiceBusReceivedMessage, now = Date.now()): DeadLetterRow {
  return {
    sequenceNumber: m.sequenceNumber?.toString() ?? "?",
    messageId: String(m.messageId ?? ""),
    subject: m.subject,
    reason: m.deadLetterReason,
    description: m.deadLetterErrorDescription,
    deliveries: m.deliveryCount === undefined ? undefined : m.deliveryCount + 1,
    enqueuedAt: m.enqueuedTimeUtc?.toISOString(),
    ageMs: m.enqueuedTimeUtc ? now - m.enqueuedTimeUtc.getTime() : undefined,
  };
}

/** Dead-lettered messages, by peeking: nothing is locked, taken or counted as a delivery. */
export async function listDeadLetters(
  client: ServiceBusClient,
  entity: string,
  filter: DlqFilter = {},
): Promise<DeadLetterRow[]> {
  const max = filter.max ?? 100;
  const receiver = deadLetterReceiver(client, entity, "peekLock");
  const rows: DeadLetterRow[] = [];
  try {
    // Each peek continues after the last one; an empty page is the end.
    while (rows.length < max) {
      const page = await receiver.peekMessages(Math.min(250, Math.max(max - rows.length, 50)));
      if (page.length === 0) break;
      for (const m of page) if (matches(m, filter) && rows.length < max) rows.push(toRow(m));
    }
  } finally {
    await receiver.close();
  }
  return rows;
}

/** Application properties the worker writes about one delivery; stale on a fresh attempt, so they are dropped. */
const isWorkerProperty = (key: string) =>
  key.startsWith("keyless-") || key === "DeadLetterReason" || key === "DeadLetterErrorDescription";

/**
 * The message to send back: same body, subject, content type, correlation id, session and properties, with the
 * resubmission recorded. The message id is kept by default: the worker sends it as the API's Idempotency-Key, so
 * a message that was in fact applied before it was dead-lettered (a lost lock, a timeout after the API's 2xx)
 * cannot be applied twice. `newMessageId` is for entities with duplicate detection, which would otherwise drop a
 * resubmission inside its window; it gives up that protection.
 */
export function resubmissionOf(
  m: ServiceBusReceivedMessage,
  options: { newMessageId?: boolean; now?: Date } = {},
): ServiceBusMessage {
  const properties = m.applicationProperties ?? {};
  const previous = Number(properties["keyless-resubmit-count"] ?? 0);
  const kept = Object.fromEntries(Object.entries(properties).filter(([k]) => !isWorkerProperty(k)));
  const originalId = String(properties["keyless-original-message-id"] ?? m.messageId ?? "");
  return {
    body: m.body,
    messageId: options.newMessageId ? randomUUID() : (m.messageId ?? randomUUID()),
    ...(m.contentType !== undefined ? { contentType: m.contentType } : {}),
    ...(m.subject !== undefined ? { subject: m.subject } : {}),
    ...(m.correlationId !== undefined ? { correlationId: m.correlationId } : {}),
    ...(m.sessionId !== undefined ? { sessionId: m.sessionId } : {}),
    ...(m.partitionKey !== undefined ? { partitionKey: m.partitionKey } : {}),
    ...(m.replyTo !== undefined ? { replyTo: m.replyTo } : {}),
    ...(m.replyToSessionId !== undefined ? { replyToSessionId: m.replyToSessionId } : {}),
    ...(m.to !== undefined ? { to: m.to } : {}),
    applicationProperties: {
      ...kept,
      "keyless-resubmitted-at": (options.now ?? new Date()).toISOString(),
      "keyless-resubmit-count": (Number.isFinite(previous) ? previous : 0) + 1,
      "keyless-original-message-id": originalId,
      ...(m.deadLetterReason ? { "keyless-resubmitted-from": m.deadLetterReason } : {}),
    },
  };
}

export interface DlqActionResult {
  readonly matched: number;
  /** Resubmitted or purged. */
  readonly done: number;
  readonly messageIds: readonly string[];
}

/**
 * Walks the dead-letter queue in peek-lock, acting on messages that match. Messages that do not match are kept
 * locked until the walk ends (so they are not received again and again), then released unchanged.
 */
async function walk(
  client: ServiceBusClient,
  entity: string,
  filter: DlqFilter & { skip?: (m: ServiceBusReceivedMessage) => boolean },
  act: (m: ServiceBusReceivedMessage, receiver: ServiceBusReceiver) => Promise<void>,
): Promise<DlqActionResult> {
  const max = filter.max ?? Number.POSITIVE_INFINITY;
  const receiver = deadLetterReceiver(client, entity, "peekLock");
  const held: ServiceBusReceivedMessage[] = [];
  const ids: string[] = [];
  let matched = 0;
  try {
    while (matched < max) {
      const batch = await receiver.receiveMessages(Math.min(100, max - matched), { maxWaitTimeInMs: 1_000 });
      if (batch.length === 0) break;
      for (const m of batch) {
        if (!matches(m, filter) || filter.skip?.(m) || matched >= max) {
          held.push(m);
          continue;
        }
        matched += 1;
        await act(m, receiver);
        ids.push(String(m.messageId ?? ""));
      }
    }
  } finally {
    for (const m of held) await receiver.abandonMessage(m).catch(() => undefined);
    await receiver.close();
  }
  return { matched, done: ids.length, messageIds: ids };
}

/**
 * Sends each matching dead-lettered message back to its entity, then completes the dead-lettered copy — only after
 * the send succeeded, so a failure loses nothing (at worst the message is in both places, and the kept message id
 * makes the second one harmless to the worker's API calls).
 */
export async function resubmitDeadLetters(
  client: ServiceBusClient,
  entity: string,
  filter: DlqFilter & { newMessageId?: boolean } = {},
): Promise<DlqActionResult> {
  const parts = entityParts(entity);
  if (!("queue" in parts)) {
    throw new Error(
      `resubmitting to ${entity} would send to topic ${parts.topic}, which fans out to every subscription; resubmit is for queues`,
    );
  }
  const sender = client.createSender(parts.queue);
  // A message this run resubmitted can fail again and come back while we walk; it carries this run's stamp and
  // is left alone, so one run never loops on it.
  const now = new Date();
  const thisRun = (m: ServiceBusReceivedMessage) =>
    m.applicationProperties?.["keyless-resubmitted-at"] === now.toISOString();
  try {
    return await walk(client, entity, { ...filter, skip: thisRun }, async (m, receiver) => {
      await sender.sendMessages(resubmissionOf(m, { newMessageId: filter.newMessageId ?? false, now }));
      await receiver.completeMessage(m);
    });
  } finally {
    await sender.close();
  }
}

/** Deletes matching dead-lettered messages for good. */
export async function purgeDeadLetters(
  client: ServiceBusClient,
  entity: string,
  filter: DlqFilter = {},
): Promise<DlqActionResult> {
  return walk(client, entity, filter, async (m, receiver) => {
    await receiver.completeMessage(m);
  });
}

/** 45 s, 12 min, 3.2 h, 4.0 d. */
export function formatAge(ms: number | undefined): string {
  if (ms === undefined) return "?";
  const s = ms / 1000;
  if (s < 90) return `${Math.max(0, Math.round(s))} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86_400).toFixed(1)} d`;
}
