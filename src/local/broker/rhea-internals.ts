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

interface DrainInternals {
  credit: number;
  delivery_count: number;
  /** The peer's last flow asked to drain. */
  _draining: boolean;
  /** set_drained(true) was called: the sender has nothing more to send for this drain. */
  _drained: boolean;
  /** Asked by rhea whenever it writes this link's flow: set the frame's drain flag? */
  _get_drain(): boolean;
  connection: { _register(): void };
}

/**
 * Answers the peer's drain as AMQP 1.0 §2.7.6 says: the flow rhea writes next advances delivery-count by the credit
 * left, sets link-credit to 0 and carries drain. rhea's own `set_drained(true)` sets the drain flag only while
 * credit is left, so a drain whose credit the last transfers used up (or that crossed them on the wire) got a flow
 * without it, which rhea-based receivers (the SDK) never count as drained; and it schedules no write when called
 * outside rhea's own event handling. A sender writes a flow only when set_drained asks for one, so the flag rule
 * changed here touches no other flow. Does nothing if a later flow from the peer ended the drain.
 */
export function answerDrain(sender: Sender): void {
  const link = sender as unknown as DrainInternals;
  link._get_drain = () => {
    if (!link._draining || !link._drained) return false;
    link.delivery_count += link.credit;
    link.credit = 0;
    return true;
  };
  sender.set_drained(true);
  link.connection._register();
}

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
