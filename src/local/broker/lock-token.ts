/**
 * Lock tokens. The SDK reads a lock token from the 16-byte delivery tag in .NET `Guid.ToByteArray()` layout and
 * sends it back on $management as an AMQP uuid in RFC (network) order, so the broker keeps the RFC string and
 * converts only when it builds a delivery tag. Getting this wrong makes renewMessageLock fail with MessageLockLost.
 */
import { randomUUID } from "node:crypto";

export const newLockToken = (): string => randomUUID();

/** RFC uuid bytes of a uuid string. */
export function uuidToBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replace(/-/g, ""), "hex");
}

/** uuid string from 16 RFC-order bytes (as rhea decodes an AMQP uuid). */
export function bytesToUuid(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The .NET layout: first three groups little-endian (bytes 0–3 reversed, 4–5 and 6–7 swapped), rest unchanged. */
export function lockTokenToDeliveryTag(uuid: string): Buffer {
  const b = uuidToBytes(uuid);
  return Buffer.from([b[3]!, b[2]!, b[1]!, b[0]!, b[5]!, b[4]!, b[7]!, b[6]!, ...b.subarray(8)]);
}
