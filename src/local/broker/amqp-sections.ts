/**
 * AMQP values as rhea's Reader reads them, before anything is unwrapped into JavaScript (where int and uint, long and
 * ulong, bool and 1, 3.0 and 3, uuid and binary all become the same thing). The broker keeps what a client sent in
 * this form, so every other client receives exactly the AMQP types that were sent, as Service Bus does.
 */
import rhea from "rhea";

const { types } = rhea;

/** A value with its AMQP type (rhea's Typed), possibly described. */
export interface Typed {
  readonly type: { readonly typecode: number; readonly name: string };
  readonly value: unknown;
  descriptor?: Typed;
}

export const SECTION = {
  header: 0x70,
  deliveryAnnotations: 0x71,
  messageAnnotations: 0x72,
  properties: 0x73,
  applicationProperties: 0x74,
  footer: 0x78,
} as const;

const SYMBOLIC_SECTION: Record<string, number> = {
  "amqp:header:list": 0x70,
  "amqp:delivery-annotations:map": 0x71,
  "amqp:message-annotations:map": 0x72,
  "amqp:properties:list": 0x73,
  "amqp:application-properties:map": 0x74,
  "amqp:data:binary": 0x75,
  "amqp:amqp-sequence:list": 0x76,
  "amqp:value:*": 0x77,
  "amqp:footer:map": 0x78,
};

export interface Section {
  /** The section's numeric descriptor (0x70 header … 0x78 footer). */
  readonly code: number;
  /** Exactly the bytes the client sent for this section. */
  readonly bytes: Buffer;
  readonly typed: Typed;
}

interface Reader {
  position: number;
  remaining(): number;
  read(): Typed;
}

const newReader = (bytes: Buffer): Reader =>
  new (types as unknown as { Reader: new (b: Buffer) => Reader }).Reader(bytes);

/** Splits an encoded message into its sections; throws on bytes that are not AMQP sections. */
export function readSections(bytes: Buffer): Section[] {
  const reader = newReader(bytes);
  const sections: Section[] = [];
  while (reader.remaining() > 0) {
    const start = reader.position;
    const typed = reader.read();
    const descriptor = typed.descriptor?.value;
    const code = typeof descriptor === "string" ? SYMBOLIC_SECTION[descriptor] : Number(descriptor);
    if (code === undefined || !(code >= 0x70 && code <= 0x78)) {
      throw new Error(`not an AMQP message section (descriptor ${String(descriptor)})`);
    }
    sections.push({ code, bytes: bytes.subarray(start, reader.position), typed });
  }
  return sections;
}

/** Encodes typed values (or rhea composites such as a header) one after another. */
export function encodeTyped(values: readonly unknown[]): Buffer {
  const writer = new (
    types as unknown as { Writer: new () => { write(v: unknown): void; toBuffer(): Buffer } }
  ).Writer();
  for (const v of values) writer.write(v);
  return writer.toBuffer();
}

export const isTyped = (v: unknown): v is Typed =>
  typeof v === "object" && v !== null && "type" in v && typeof (v as Typed).type?.typecode === "number";

/** A JavaScript value as rhea would type it, or a Typed value as it is. */
export const typed = (v: unknown): Typed => (isTyped(v) ? v : (types.wrap(v) as unknown as Typed));

/** A typed AMQP map as [key, value] pairs in their original order; keys compared by their string value. */
export class TypedMap {
  readonly entries: ReadonlyArray<readonly [Typed, Typed]>;

  constructor(entries: ReadonlyArray<readonly [Typed, Typed]> = []) {
    this.entries = entries;
  }

  /** Reads a map value (Map8/Map32, described or not); anything else gives an empty map. */
  static of(value: Typed | undefined): TypedMap {
    const items = value?.value;
    if (!Array.isArray(items) || !/^Map/.test(value!.type.name)) return new TypedMap();
    const entries: Array<[Typed, Typed]> = [];
    for (let i = 0; i + 1 < items.length; i += 2) entries.push([items[i] as Typed, items[i + 1] as Typed]);
    return new TypedMap(entries);
  }

  get(key: string): Typed | undefined {
    return this.entries.find(([k]) => String(k.value) === key)?.[1];
  }

  /** A copy with these entries added or replaced; keys become `keyType` (string or symbol) when new. */
  with(values: Iterable<readonly [string, unknown]>, keyType: "string" | "symbol" = "string"): TypedMap {
    const entries = [...this.entries];
    for (const [key, value] of values) {
      const i = entries.findIndex(([k]) => String(k.value) === key);
      const k =
        i >= 0
          ? entries[i]![0]
          : ((keyType === "symbol" ? types.wrap_symbol(key) : types.wrap_string(key)) as unknown as Typed);
      if (i >= 0) entries[i] = [k, typed(value)];
      else entries.push([k, typed(value)]);
    }
    return new TypedMap(entries);
  }

  /** The map as a described section (`code`), ready for encodeTyped. */
  section(code: number): unknown {
    const map = (types as unknown as { Map32(items: Typed[]): Typed }).Map32(this.entries.flat());
    return types.described_nc(types.wrap_ulong(code), map as never);
  }
}
