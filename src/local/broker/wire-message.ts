/**
 * Messages as the broker keeps them: the sections a client sent, byte for byte (AMQP's bare message is immutable, and
 * Service Bus hands every receiver exactly the types and body that were sent), plus rhea's decoded view for routing.
 * The broker rewrites only what Service Bus itself writes: the header (delivery count, TTL), its own message
 * annotations (sequence number, enqueued time, locked-until, state), a message id when the sender set none, and the
 * application properties a settlement adds (dead-letter reason, properties to modify).
 */
import rhea from "rhea";
import type { Message } from "rhea";

import { encodeTyped, readSections, SECTION, type Section, TypedMap } from "./amqp-sections.ts";
import type { StoredMessage } from "./message-store.ts";
import { bytesOf, decodeMessage } from "./rhea-internals.ts";

const { types } = rhea;
/** The SDK's batch format: one data section per message, each a complete encoded AMQP message. */
export const BATCH_MESSAGE_FORMAT = 0x80013700;

export class WireMessage {
  /** What the client sent (delivery annotations, which are hop-by-hop, already left out). */
  readonly bytes: Buffer;
  /** rhea's view, for routing, filters, TTL and ids; lossy about types, so never re-encoded. */
  readonly decoded: Message;
  readonly #sections: readonly Section[];

  private constructor(sections: readonly Section[]) {
    this.#sections = sections.filter((s) => s.code !== SECTION.deliveryAnnotations);
    this.bytes = Buffer.concat(this.#sections.map((s) => s.bytes));
    this.decoded = decodeMessage(this.bytes);
  }

  static decode(bytes: Buffer): WireMessage {
    return new WireMessage(readSections(bytes));
  }

  /** The message rhea decoded from a transfer, from the bytes it was decoded from. */
  static received(message: Message): WireMessage {
    return WireMessage.decode(bytesOf(message));
  }

  get size(): number {
    return this.bytes.length;
  }

  /** The same message with `properties.message-id` set (Service Bus assigns one when the sender did not). */
  withMessageId(id: string): WireMessage {
    const current = this.#section(SECTION.properties);
    const fields = [...((current?.typed.value as unknown[] | undefined) ?? [])];
    fields[0] = types.wrap_string(id);
    for (let i = 1; i < fields.length; i++) fields[i] ??= types.wrap(null);
    const list = types.wrap_list(fields);
    return this.#replace(SECTION.properties, types.described_nc(types.wrap_ulong(SECTION.properties), list));
  }

  /** The same message with application properties added or replaced (plain values get rhea's type, Typed keep theirs). */
  withApplicationProperties(values: Record<string, unknown>): WireMessage {
    const entries = Object.entries(values).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return this;
    const map = TypedMap.of(this.#section(SECTION.applicationProperties)?.typed).with(entries);
    return this.#replace(SECTION.applicationProperties, map.section(SECTION.applicationProperties));
  }

  /** The message for a receiver: a new header and the broker's annotations, then every other section as sent. */
  encode(header: Record<string, unknown>, annotations: Record<string, unknown>, omitBody = false): Buffer {
    const sent = this.decoded;
    const headerSection = (rhea.message as unknown as { header(f: object): { described(): unknown } })
      .header({
        ...(sent.durable !== undefined ? { durable: sent.durable } : {}),
        ...(sent.priority !== undefined ? { priority: sent.priority } : {}),
        ...(sent.first_acquirer !== undefined ? { first_acquirer: sent.first_acquirer } : {}),
        ...header,
      })
      .described();
    const merged = TypedMap.of(this.#section(SECTION.messageAnnotations)?.typed).with(
      Object.entries(annotations),
      "symbol",
    );
    const rest = this.#sections
      .filter((s) => s.code > SECTION.messageAnnotations && !(omitBody && s.code >= 0x75 && s.code <= 0x77))
      .map((s) => s.bytes);
    return Buffer.concat([encodeTyped([headerSection, merged.section(SECTION.messageAnnotations)]), ...rest]);
  }

  #section(code: number): Section | undefined {
    return this.#sections.find((s) => s.code === code);
  }

  #replace(code: number, value: unknown): WireMessage {
    const bytes = encodeTyped([value]);
    const section: Section = { code, bytes, typed: readSections(bytes)[0]!.typed };
    const others = this.#sections.filter((s) => s.code !== code);
    // Sections keep AMQP's order: header, annotations, properties, application properties, body, footer.
    const at = others.findIndex((s) => s.code > code);
    return new WireMessage(
      at < 0 ? [...others, section] : [...others.slice(0, at), section, ...others.slice(at)],
    );
  }
}

export function encodeForClient(
  m: StoredMessage,
  options: { lockedUntilMs?: number | undefined; omitBody?: boolean } = {},
): Buffer {
  const annotations: Record<string, unknown> = {
    "x-opt-sequence-number": types.wrap_long(m.seq),
    "x-opt-enqueued-time": types.wrap_timestamp(m.enqueuedAtMs),
    "x-opt-message-state": types.wrap_int(stateCode(m)),
  };
  if (options.lockedUntilMs !== undefined)
    annotations["x-opt-locked-until"] = types.wrap_timestamp(options.lockedUntilMs);
  const ttl = m.expiresAtMs - m.enqueuedAtMs;
  return m.message.encode(
    {
      delivery_count: m.deliveryCount,
      ...(Number.isFinite(ttl) && ttl <= 0xffffffff ? { ttl } : {}),
    },
    annotations,
    options.omitBody === true,
  );
}

/** Decodes what arrived on a sender link: one message (format 0) or the messages of an SDK batch. */
export function decodeSent(payload: Message | Buffer, format: number | undefined): WireMessage[] {
  if (format === undefined || format === 0) return [WireMessage.received(payload as Message)];
  if (format !== BATCH_MESSAGE_FORMAT) throw new Error(`unsupported message format ${format}`);
  const envelope = decodeMessage(payload as Buffer);
  const body = envelope.body as { typecode?: number; content?: unknown; multiple?: boolean } | undefined;
  if (body?.typecode !== 0x75) throw new Error("a batch must carry data sections");
  const sections = (body.multiple ? body.content : [body.content]) as Buffer[];
  return sections.map((bytes) => WireMessage.decode(Buffer.from(bytes)));
}

/**
 * x-opt-message-state: 1 deferred (also while locked after receive-by-sequence-number), 2 scheduled (also once a
 * scheduled message is visible, as Service Bus reports it), 0 active.
 */
function stateCode(m: StoredMessage): number {
  if (m.state === "deferred" || m.wasDeferred) return 1;
  return m.state === "scheduled" || m.wasScheduled ? 2 : 0;
}
