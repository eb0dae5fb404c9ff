/**
 * The few parts of rhea 3.0.5 the broker uses that its typings leave out (link attach fields, credit counters,
 * delivery outcomes, the bytes a message was decoded from). Kept in one place so an upgrade of rhea has one file to
 * check.
 */
import rhea from "rhea";
import type { Connection, Container, Delivery, Message, Receiver, Sender } from "rhea";

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
/**
 * True while a link's attach frame has not been written yet. rhea writes a session's transfers before its links'
 * attach frames, so a transfer queued in the tick a link opens (a client may send attach and flow together, as
 * .NET and pyamqp do) would reach the client before the attach, on a handle it does not know yet.
 */
export const attachPending = (link: Sender | Receiver): boolean =>
  (link as unknown as { state: { open_requests: number } }).state.open_requests > 0;

interface Outcomes {
  accepted(): { described(): unknown };
  released(): { described(): unknown };
  rejected(fields: { error?: AmqpErrorShape }): { described(): unknown };
  modified(fields: Record<string, unknown>): { described(): unknown };
  decode(bytes: Buffer): Message;
}

const outcomes = rhea.message as unknown as Outcomes;

export const acceptedOutcome = () => outcomes.accepted().described();
export const rejectedOutcome = (error: AmqpErrorShape) => outcomes.rejected({ error }).described();

/**
 * rhea hands a receiver only the decoded message, in which AMQP types are already lost. Its session decodes every
 * transfer through `rhea.message.decode`, so remembering the bytes there is the one place to keep them.
 */
const sentBytes = new WeakMap<Message, Buffer>();
const decode = outcomes.decode;
outcomes.decode = (bytes: Buffer): Message => {
  const message = decode(bytes);
  sentBytes.set(message, bytes);
  return message;
};

/** The bytes a received message was decoded from. */
export function bytesOf(message: Message): Buffer {
  const bytes = sentBytes.get(message);
  if (bytes === undefined) throw new Error("the message was not decoded by rhea from bytes");
  return bytes;
}

/**
 * Offers Service Bus's own SASL mechanism, MSSBCBS ("authorisation follows on $cbs"), which Microsoft.Azure.Amqp
 * (the .NET client) asks for and accepts no other; like ANONYMOUS it succeeds at once. rhea takes a server mechanism
 * as a factory of objects with `start(response)` setting `outcome` and `username`.
 */
export function enableCbsSasl(container: Container): void {
  const mechanisms = container.sasl_server_mechanisms as unknown as Record<string, () => unknown>;
  mechanisms.MSSBCBS = () => {
    const mechanism = {
      outcome: undefined as boolean | undefined,
      username: undefined as string | undefined,
      start() {
        mechanism.outcome = true;
        mechanism.username = "MSSBCBS";
      },
    };
    return mechanism;
  };
}

/** rhea.message.decode, typed with the same Message type the rest of rhea's typings use. */
export const decodeMessage = (bytes: Buffer): Message => outcomes.decode(bytes);

/**
 * Tells a connection its transport is gone. rhea learns that from the socket's "end" or "error" only, so a socket
 * that just closes (destroyed by the broker on shutdown, or a peer that vanished) would leave its heartbeat timers
 * re-arming themselves and the process alive.
 */
export const transportGone = (connection: Connection): void =>
  (connection as unknown as { eof(): void }).eof();

/** The outcome a client put on a disposition, as rhea keeps it: the composite, and its fields still typed. */
export interface RemoteOutcome {
  readonly value?: unknown[];
  readonly [field: string]: unknown;
}

export const remoteOutcome = (delivery: Delivery): RemoteOutcome | undefined =>
  (delivery as unknown as { remote_state?: RemoteOutcome }).remote_state;

/**
 * The broker's confirmation of a client's outcome: the same outcome, without an error (an error on it would tell
 * every Microsoft client that the settlement failed).
 */
export function echoOutcome(
  outcome: "accepted" | "released" | "rejected" | "modified",
  state: RemoteOutcome | undefined,
) {
  switch (outcome) {
    case "accepted":
      return outcomes.accepted().described();
    case "released":
      return outcomes.released().described();
    case "rejected":
      return outcomes.rejected({}).described();
    case "modified":
      return outcomes
        .modified({
          ...(state?.delivery_failed !== undefined ? { delivery_failed: state.delivery_failed } : {}),
          ...(state?.undeliverable_here !== undefined
            ? { undeliverable_here: state.undeliverable_here }
            : {}),
        })
        .described();
  }
}

/**
 * Settles a delivery on the broker's side and lets rhea free its session slot. rhea frees a slot only once both
 * ends have settled; a client that settled first, or that does not settle again after our settled disposition
 * (every Microsoft client), would otherwise hold the slot forever, and a session has 2048.
 */
export function settle(delivery: Delivery, state?: unknown): void {
  delivery.update(true, state as never);
  (delivery as unknown as { remote_settled: boolean }).remote_settled = true;
}

/**
 * Leaves a client's attach unanswered. rhea answers every attach it receives (it opens the link before telling us),
 * so this takes that back; `link.open()` answers it later (accepting the next session waits this way).
 */
export function holdAttach(link: Sender | Receiver): void {
  const state = (link as unknown as { state: { local_open: boolean; open_requests: number } }).state;
  if (state.open_requests > 0) {
    state.local_open = false;
    state.open_requests--;
  }
}
