/**
 * What a client's disposition of a peek-locked message means in Service Bus terms: accepted completes, modified
 * abandons (with undeliverable-here it defers), rejected dead-letters, and released returns the message uncounted
 * (AMQP: the delivery-count of a released message must not be incremented). Properties to modify are
 * read from the outcome's still-typed fields, so they keep the AMQP types the client sent.
 */
import { type Typed, TypedMap } from "./amqp-sections.ts";
import type { Outcome, Properties } from "./message-store.ts";
import type { RemoteOutcome } from "./rhea-internals.ts";

const DEAD_LETTER_CONDITION = "com.microsoft:dead-letter";

export function toOutcome(
  outcome: "accepted" | "released" | "rejected" | "modified",
  state: RemoteOutcome | undefined,
): Outcome {
  switch (outcome) {
    case "accepted":
      return { kind: "complete" };
    case "released":
      return { kind: "release" };
    case "modified": {
      // modified: [delivery-failed, undeliverable-here, message-annotations]
      const properties = typedEntries(state?.value?.[2] as Typed | undefined);
      return state?.undeliverable_here ? { kind: "defer", properties } : { kind: "abandon", properties };
    }
    case "rejected": {
      // rejected: [error]; error: [condition, description, info]
      const error = (state?.value?.[0] as Typed | undefined)?.value as Typed[] | undefined;
      const condition = plain(error?.[0]);
      const info = typedEntries(error?.[2]) ?? {};
      const reason =
        plain(info.DeadLetterReason) ?? (condition !== DEAD_LETTER_CONDITION ? condition : undefined);
      const description = plain(info.DeadLetterErrorDescription) ?? plain(error?.[1]);
      delete info.DeadLetterReason;
      delete info.DeadLetterErrorDescription;
      return {
        kind: "deadLetter",
        reason: reason === undefined ? undefined : String(reason),
        description: description === undefined ? undefined : String(description),
        properties: info,
      };
    }
  }
}

/** A typed map's entries by key, values still Typed. */
function typedEntries(map: Typed | undefined): Properties | undefined {
  const entries = TypedMap.of(map).entries;
  if (entries.length === 0) return undefined;
  return Object.fromEntries(entries.map(([k, v]) => [String(k.value), v]));
}

/** A Typed's plain value (null and absent both undefined). */
function plain(v: unknown): unknown {
  const value = typeof v === "object" && v !== null && "value" in v ? (v as Typed).value : v;
  return value === null ? undefined : value;
}
