/**
 * A broker-side sending link (the SDK's receiver) seen as a Consumer of a MessageStore. It never hands out more
 * messages than the credit the client granted: rhea only lowers `sender.credit` when it actually writes a transfer
 * (later in the tick), so sends not yet written are counted here and subtracted. Every drain is answered.
 */
import type { Delivery, Sender } from "rhea";

import { lockTokenToDeliveryTag } from "./lock-token.ts";
import type { Consumer, MessageStore, StoredMessage } from "./message-store.ts";
import { answerDrain, attachPending, internals } from "./rhea-internals.ts";
import { encodeForClient } from "./wire-message.ts";

export interface DeliveredLock {
  readonly store: MessageStore;
  readonly token: string;
}

/** Which store and lock each unsettled delivery belongs to, so a disposition can be applied. */
export const deliveryLocks = new WeakMap<Delivery, DeliveredLock>();

export class DeliveryLink implements Consumer {
  readonly sender: Sender;
  readonly store: MessageStore;
  readonly receiveAndDelete: boolean;
  #unwritten = 0;
  #lastDeliveryCount: number;
  #drainAnswerPending = false;

  constructor(sender: Sender, store: MessageStore, receiveAndDelete: boolean) {
    this.sender = sender;
    this.store = store;
    this.receiveAndDelete = receiveAndDelete;
    this.#lastDeliveryCount = internals(sender).delivery_count;
  }

  credit(): number {
    if (!this.sender.is_open() || attachPending(this.sender)) return 0;
    const written = internals(this.sender).delivery_count - this.#lastDeliveryCount;
    this.#lastDeliveryCount = internals(this.sender).delivery_count;
    this.#unwritten = Math.max(0, this.#unwritten - written);
    const sessionRoom = internals(this.sender).session.outgoing.available();
    return Math.max(0, Math.min(internals(this.sender).credit - this.#unwritten, sessionRoom));
  }

  deliver(m: StoredMessage): void {
    this.#unwritten++;
    const lock = m.lock;
    const tag = lock ? lockTokenToDeliveryTag(lock.token) : Buffer.from(String(m.seq));
    const delivery = this.sender.send(encodeForClient(m, { lockedUntilMs: lock?.lockedUntilMs }), tag, 0);
    if (lock) deliveryLocks.set(delivery, { store: this.store, token: lock.token });
  }

  /**
   * The client asked to drain (AMQP 1.0 §2.7.6): deliver what is available, then answer with flow(link-credit 0,
   * delivery-count advanced by the credit left, drain), always, whether or not anything was delivered.
   */
  drain(): void {
    this.store.pump();
    if (this.#drainAnswerPending) return;
    this.#drainAnswerPending = true;
    setImmediate(this.#answerDrainOnceWritten);
  }

  /**
   * The answer spends the credit left, so it waits until rhea has written the transfers just sent (normally in the
   * tick after they were sent; later only while the client's session window holds them back): answered earlier,
   * their credit would be gone and they would sit locked at the broker until the client grants more.
   */
  #answerDrainOnceWritten = (): void => {
    if (!this.sender.is_open()) return;
    this.credit(); // counts the transfers rhea has written since
    if (this.#unwritten > 0) {
      setTimeout(this.#answerDrainOnceWritten, 10);
      return;
    }
    this.#drainAnswerPending = false;
    answerDrain(this.sender);
  };
}
