/**
 * Turning stored messages into bytes for the SDK and sent bytes into stored messages. The broker annotations
 * (sequence number, enqueued time, locked-until, state) are what the SDK builds ServiceBusReceivedMessage from;
 * `header.delivery-count` is sent as the number of earlier deliveries, which the JS SDK exposes as is.
 */
import rhea from "rhea";
import type { Message } from "rhea";

import type { StoredMessage } from "./message-store.ts";
import { decodeMessage } from "./rhea-internals.ts";

const { types } = rhea;
/** The SDK's batch format: one data section per message, each a complete encoded AMQP message. */
export const BATCH_MESSAGE_FORMAT = 0x80013700;

export function encodeForClient(
  m: StoredMessage,
  options: { lockedUntilMs?: number | undefined; withState?: boolean } = {},
): Buffer {
  const annotations: Record<string, unknown> = {
    ...m.amqp.message_annotations,
    "x-opt-sequence-number": types.wrap_long(m.seq),
    "x-opt-enqueued-time": new Date(m.enqueuedAtMs),
  };
  if (options.lockedUntilMs !== undefined)
    annotations["x-opt-locked-until"] = new Date(options.lockedUntilMs);
  if (options.withState) annotations["x-opt-message-state"] = types.wrap_int(stateCode(m));
  const ttl = m.expiresAtMs - m.enqueuedAtMs;
  const out: Message = {
    ...m.amqp,
    delivery_count: m.deliveryCount,
    message_annotations: annotations,
    ...(Number.isFinite(ttl) && ttl <= 0xffffffff ? { ttl } : {}),
  };
  return rhea.message.encode(out);
}

/** Decodes what arrived on a sender link: one message (format 0) or the messages of an SDK batch. */
export function decodeSent(
  payload: Message | Buffer,
  format: number | undefined,
): Array<{ amqp: Message; size: number }> {
  if (format === undefined || format === 0) {
    const amqp = payload as Message;
    return [{ amqp, size: approximateSize(amqp) }];
  }
  if (format !== BATCH_MESSAGE_FORMAT) throw new Error(`unsupported message format ${format}`);
  const envelope = decodeMessage(payload as Buffer);
  const body = envelope.body as { typecode?: number; content?: unknown; multiple?: boolean } | undefined;
  if (body?.typecode !== 0x75) throw new Error("a batch must carry data sections");
  const sections = (body.multiple ? body.content : [body.content]) as Buffer[];
  return sections.map((bytes) => ({ amqp: decodeMessage(Buffer.from(bytes)), size: bytes.length }));
}

/** Size of a decoded message as it would travel, for quotas and inspection. */
export function approximateSize(amqp: Message): number {
  return rhea.message.encode(amqp).length;
}

/** x-opt-message-state: 1 deferred (also while locked after receive-by-sequence-number), 2 scheduled, 0 active. */
function stateCode(m: StoredMessage): number {
  if (m.state === "scheduled") return 2;
  return m.state === "deferred" || m.wasDeferred ? 1 : 0;
}
