/**
 * The few parts of rhea 3.0.5 the broker uses that its typings leave out (link attach fields, credit counters,
 * delivery outcomes). Kept in one place so an upgrade of rhea has one file to check.
 */
import rhea from "rhea";
import type { Connection, Message, Receiver, Sender } from "rhea";

import type { AmqpErrorShape } from "./errors.ts";

export interface LinkInternals {
  local: { attach: Record<string, unknown> };
  credit: number;
  delivery_count: number;
  session: { outgoing: { available(): number } };
  flow(credit: number): void;
}

export const internals = (link: Sender | Receiver): LinkInternals => link as unknown as LinkInternals;

interface Outcomes {
  accepted(): { described(): unknown };
  rejected(fields: { error: AmqpErrorShape }): { described(): unknown };
  decode(bytes: Buffer): Message;
}

const outcomes = rhea.message as unknown as Outcomes;

export const acceptedOutcome = () => outcomes.accepted().described();
export const rejectedOutcome = (error: AmqpErrorShape) => outcomes.rejected({ error }).described();
/** rhea.message.decode, typed with the same Message type the rest of rhea's typings use. */
export const decodeMessage = (bytes: Buffer): Message => outcomes.decode(bytes);

/**
 * Tells a connection its transport is gone. rhea learns that from the socket's "end" or "error" only, so a socket
 * that just closes (destroyed by the broker on shutdown, or a peer that vanished) would leave its heartbeat timers
 * re-arming themselves and the process alive.
 */
export const transportGone = (connection: Connection): void =>
  (connection as unknown as { eof(): void }).eof();
