/**
 * One entity's messages (a queue, a subscription, or a dead-letter queue): sequence numbers, availability in
 * sequence order, peek-lock locks with expiry, deferral, scheduling, TTL, and delivery to consumers strictly within
 * the credit they granted. It knows nothing about AMQP framing; links and $management call into it.
 *
 * Invariant: a message is in exactly one state. "locked" messages stay locked until settled or until their lock
 * expires, whatever happens to the link or connection that received them — nothing is released early.
 */
import { type AmqpRefusal, lockLost, messageNotFound, notAllowed, quotaExceeded } from "./errors.ts";
import { newLockToken } from "./lock-token.ts";
import { SeqHeap } from "./seq-heap.ts";
import type { WireMessage } from "./wire-message.ts";

export type MessageState = "active" | "locked" | "deferred" | "scheduled";

export interface StoredMessage {
  readonly seq: number;
  message: WireMessage;
  readonly size: number;
  enqueuedAtMs: number;
  expiresAtMs: number;
  deliveryCount: number;
  state: MessageState;
  /** Received by sequence number after deferral: abandoning it returns it to the deferred state. */
  wasDeferred: boolean;
  /** Enqueued by schedule: Service Bus keeps reporting its state as scheduled once it is visible. */
  wasScheduled: boolean;
  scheduledAtMs: number | undefined;
  lock: { readonly token: string; lockedUntilMs: number; timer: NodeJS.Timeout | undefined } | undefined;
  scheduleTimer: NodeJS.Timeout | undefined;
  /** In the availability heap (entries are removed lazily). */
  queued: boolean;
}

/** A receiving link, seen from the store: how many more messages it may take, and how to hand one over. */
export interface Consumer {
  readonly receiveAndDelete: boolean;
  credit(): number;
  deliver(message: StoredMessage): void;
}

export type Properties = Record<string, unknown>;

export type Outcome =
  | { readonly kind: "complete" }
  | { readonly kind: "abandon"; readonly properties?: Properties | undefined }
  /** AMQP released: not acted upon (e.g. .NET releases what arrives after its receive call ended), not counted. */
  | { readonly kind: "release" }
  | { readonly kind: "defer"; readonly properties?: Properties | undefined }
  | {
      readonly kind: "deadLetter";
      readonly reason?: string | undefined;
      readonly description?: string | undefined;
      readonly properties?: Properties | undefined;
    };

export interface StoreSettings {
  readonly lockDurationMs: number;
  readonly maxDeliveryCount: number;
  /**
   * A dead-letter queue: its messages cannot be dead-lettered again (refused with GeneralError, the message stays),
   * and a failed delivery does not count (the SDKs' own specs expect an abandoned one back with its count unchanged).
   */
  readonly deadLetterQueue?: boolean;
  readonly defaultTtlMs: number;
  readonly deadLetterOnExpiration: boolean;
  readonly maxSizeBytes: number;
  /**
   * Set for one session's messages (see sessions.ts): their locks last as long as the session lock instead of a
   * timer of their own (the session ends them with releaseLocks), report its locked-until, and a settlement by a lock
   * that is gone is the session's lost lock.
   */
  readonly underSessionLock?: { lockedUntilMs(): number; lockLost(): AmqpRefusal };
}

export interface EnqueueOptions {
  readonly deliveryCount?: number;
  readonly scheduledAtMs?: number | undefined;
  /** Was scheduled on a topic, which fans it out to subscriptions when it is due. */
  readonly wasScheduled?: boolean;
  /** Arrived by topic fan-out or forwarding rather than from a sender (a session entity dead-letters it without a session id). */
  readonly routed?: boolean;
}

export interface StoreStats {
  active: number;
  locked: number;
  scheduled: number;
  deferred: number;
  /** The most messages locked at once since the entity was made: exact, where sampling `locked` can miss a peak. */
  mostLocked: number;
}

export class MessageStore {
  readonly path: string;
  readonly settings: StoreSettings;
  /** Where dead-lettered messages go (the entity's $DeadLetterQueue or its ForwardDeadLetteredMessagesTo). */
  deadLetterSink: ((message: WireMessage, deliveryCount: number) => void) | undefined;
  /** Told whenever a message becomes available (a session entity then looks for a waiting session receiver). */
  onAvailable: (() => void) | undefined;
  readonly #sequence: () => number;
  #nextSeq = 1;
  #bytes = 0;
  /** Every message by sequence number; Map order = sequence order, which peek relies on. */
  readonly #messages = new Map<number, StoredMessage>();
  readonly #available = new SeqHeap<StoredMessage>();
  readonly #locks = new Map<string, StoredMessage>();
  #mostLocked = 0;
  readonly #consumers: Consumer[] = [];
  #rr = 0;
  #pumping = false;
  #closed = false;

  /** `sequence` hands out sequence numbers when several stores share one entity's (the sessions of an entity). */
  constructor(path: string, settings: StoreSettings, sequence?: () => number) {
    this.path = path;
    this.settings = settings;
    this.#sequence = sequence ?? (() => this.#nextSeq++);
  }

  enqueue(message: WireMessage, options: EnqueueOptions = {}): number {
    if (this.#bytes + message.size > this.settings.maxSizeBytes) {
      throw quotaExceeded(
        `The maximum entity size has been reached or exceeded for '${this.path}' (${this.settings.maxSizeBytes} bytes).`,
      );
    }
    const now = Date.now();
    const sentTtl = message.decoded.ttl;
    const ttl =
      typeof sentTtl === "number" && sentTtl > 0
        ? Math.min(sentTtl, this.settings.defaultTtlMs)
        : this.settings.defaultTtlMs;
    const scheduled = options.scheduledAtMs !== undefined && options.scheduledAtMs > now;
    const m: StoredMessage = {
      seq: this.#sequence(),
      message,
      size: message.size,
      enqueuedAtMs: now,
      expiresAtMs: now + ttl,
      deliveryCount: options.deliveryCount ?? 0,
      state: scheduled ? "scheduled" : "active",
      wasDeferred: false,
      wasScheduled: scheduled || options.wasScheduled === true,
      scheduledAtMs: scheduled ? options.scheduledAtMs : undefined,
      lock: undefined,
      scheduleTimer: undefined,
      queued: false,
    };
    this.#messages.set(m.seq, m);
    this.#bytes += m.size;
    if (scheduled) {
      m.scheduleTimer = setTimeout(() => this.#activateScheduled(m), m.scheduledAtMs! - now);
      m.scheduleTimer.unref();
    } else {
      this.#makeAvailable(m);
    }
    return m.seq;
  }

  /** Cancels scheduled messages; unknown or already-enqueued sequence numbers are an error, as in Service Bus. */
  cancelScheduled(seqs: readonly number[]): void {
    const found = seqs.map((s) => this.#messages.get(s));
    const missing = seqs.filter((_, i) => found[i]?.state !== "scheduled");
    if (missing.length > 0)
      throw messageNotFound(`No scheduled message with sequence number ${missing.join(", ")}.`);
    for (const m of found) this.#remove(m!);
  }

  addConsumer(c: Consumer): void {
    this.#consumers.push(c);
    this.pump();
  }

  removeConsumer(c: Consumer): void {
    const i = this.#consumers.indexOf(c);
    if (i >= 0) this.#consumers.splice(i, 1);
  }

  /** Hands available messages to consumers with credit, round-robin, never beyond what each granted. */
  pump(): void {
    if (this.#pumping || this.#closed) return;
    this.#pumping = true;
    try {
      for (;;) {
        const consumer = this.#nextConsumerWithCredit();
        if (consumer === undefined) return;
        const m = this.#takeAvailable();
        if (m === undefined) return;
        if (consumer.receiveAndDelete) {
          this.#remove(m);
        } else {
          m.state = "locked";
          this.#lock(m);
        }
        consumer.deliver(m);
      }
    } finally {
      this.#pumping = false;
    }
  }

  settle(lockToken: string, outcome: Outcome): void {
    const m = this.#locks.get(lockToken);
    if (m === undefined || m.lock === undefined) throw this.#lockLost();
    if (outcome.kind === "deadLetter" && this.settings.deadLetterQueue) {
      // The refusal settles the client's delivery, so the lock is of no more use: the message is available again
      // at once (uncounted, as in any dead-letter queue) rather than after the lock expires.
      this.#unlock(m);
      this.#deliveryFailed(m);
      throw notAllowed(
        `Cannot dead-letter a message that is already in the dead-letter queue '${this.path}'. Complete, abandon or defer it instead.`,
      );
    }
    this.#unlock(m);
    switch (outcome.kind) {
      case "complete":
        this.#remove(m);
        return;
      case "abandon":
        mergeProperties(m, outcome.properties);
        this.#deliveryFailed(m);
        return;
      case "release":
        if (m.wasDeferred) m.state = "deferred";
        else this.#makeAvailable(m);
        return;
      case "defer":
        // Service Bus counts the delivery that ended in the deferral: received by sequence number, it shows one more.
        mergeProperties(m, outcome.properties);
        m.deliveryCount++;
        m.state = "deferred";
        m.wasDeferred = true;
        return;
      case "deadLetter":
        this.#deadLetter(m, outcome.reason, outcome.description, outcome.properties);
        return;
    }
  }

  /** Extends a lock by the entity's LockDuration from now; returns the new locked-until time. */
  renewLock(lockToken: string): number {
    const m = this.#locks.get(lockToken);
    if (m === undefined || m.lock === undefined) throw this.#lockLost();
    clearTimeout(m.lock.timer);
    this.#lock(m, m.lock.token);
    return m.lock.lockedUntilMs;
  }

  /** Ends every lock held (a session lock ended): each counts as a failed delivery, as a lock that expired does. */
  releaseLocks(): void {
    for (const m of [...this.#locks.values()]) {
      this.#unlock(m);
      this.#deliveryFailed(m);
    }
  }

  holdsLock(lockToken: string): boolean {
    return this.#locks.has(lockToken);
  }

  has(seq: number): boolean {
    return this.#messages.has(seq);
  }

  get size(): number {
    return this.#messages.size;
  }

  /** The sequence number of the next message a consumer would get, if any. */
  firstAvailableSeq(): number | undefined {
    for (;;) {
      const m = this.#available.peek();
      if (m === undefined) return undefined;
      if (m.state === "active" && this.#messages.get(m.seq) === m) return m.seq;
      this.#available.pop();
      m.queued = false;
    }
  }

  /** Messages from a sequence number on, in order, whatever their state (peek does not lock). */
  peek(fromSeq: number, count: number): StoredMessage[] {
    const out: StoredMessage[] = [];
    for (const m of this.#messages.values()) {
      if (out.length >= count) break;
      if (m.seq >= fromSeq) out.push(m);
    }
    return out;
  }

  /** Deferred messages by sequence number: locked (peek-lock) or removed (receive-and-delete). */
  receiveDeferred(seqs: readonly number[], receiveAndDelete: boolean): StoredMessage[] {
    const found = seqs.map((s) => this.#messages.get(s));
    const missing = seqs.filter((_, i) => found[i]?.state !== "deferred");
    if (missing.length > 0) {
      throw messageNotFound(
        `Failed to retrieve the deferred message(s) with sequence number(s) ${missing.join(", ")}.`,
      );
    }
    return found.map((m) => {
      if (receiveAndDelete) this.#remove(m!);
      else {
        m!.state = "locked";
        this.#lock(m!);
      }
      return m!;
    });
  }

  /** Retires expired active messages (to the dead-letter queue when DeadLetteringOnMessageExpiration). */
  expire(now: number): void {
    for (const m of this.#messages.values()) {
      if (m.state === "active" && m.expiresAtMs <= now) this.#expireOne(m);
    }
  }

  stats(): StoreStats {
    const s: StoreStats = { active: 0, locked: 0, scheduled: 0, deferred: 0, mostLocked: this.#mostLocked };
    for (const m of this.#messages.values()) s[m.state]++;
    return s;
  }

  get bytes(): number {
    return this.#bytes;
  }

  close(): void {
    this.#closed = true;
    for (const m of this.#messages.values()) {
      if (m.lock) clearTimeout(m.lock.timer);
      if (m.scheduleTimer) clearTimeout(m.scheduleTimer);
    }
    this.#messages.clear();
    this.#locks.clear();
    this.#available.clear();
    this.#consumers.length = 0;
    this.#bytes = 0;
  }

  #nextConsumerWithCredit(): Consumer | undefined {
    const n = this.#consumers.length;
    for (let i = 0; i < n; i++) {
      const c = this.#consumers[(this.#rr + i) % n]!;
      if (c.credit() > 0) {
        this.#rr = (this.#rr + i + 1) % n;
        return c;
      }
    }
    return undefined;
  }

  #takeAvailable(): StoredMessage | undefined {
    const now = Date.now();
    for (;;) {
      const m = this.#available.pop();
      if (m === undefined) return undefined;
      m.queued = false;
      if (m.state !== "active" || this.#messages.get(m.seq) !== m) continue;
      if (m.expiresAtMs <= now) {
        this.#expireOne(m);
        continue;
      }
      return m;
    }
  }

  #makeAvailable(m: StoredMessage): void {
    m.state = "active";
    if (!m.queued) {
      m.queued = true;
      this.#available.push(m);
    }
    this.pump();
    this.onAvailable?.();
  }

  #activateScheduled(m: StoredMessage): void {
    m.scheduleTimer = undefined;
    if (this.#messages.get(m.seq) !== m || m.state !== "scheduled") return;
    // Service Bus counts TTL from when a scheduled message becomes visible.
    const ttl = m.expiresAtMs - m.enqueuedAtMs;
    m.enqueuedAtMs = Date.now();
    m.expiresAtMs = m.enqueuedAtMs + ttl;
    this.#makeAvailable(m);
  }

  #lock(m: StoredMessage, token = newLockToken()): void {
    const session = this.settings.underSessionLock;
    if (session !== undefined) {
      m.lock = { token, lockedUntilMs: session.lockedUntilMs(), timer: undefined };
    } else {
      const timer = setTimeout(() => this.#lockExpired(m, token), this.settings.lockDurationMs);
      timer.unref();
      m.lock = { token, lockedUntilMs: Date.now() + this.settings.lockDurationMs, timer };
    }
    this.#locks.set(token, m);
    if (this.#locks.size > this.#mostLocked) this.#mostLocked = this.#locks.size;
  }

  #lockLost(): AmqpRefusal {
    return this.settings.underSessionLock?.lockLost() ?? lockLost();
  }

  #unlock(m: StoredMessage): void {
    if (m.lock === undefined) return;
    clearTimeout(m.lock.timer);
    this.#locks.delete(m.lock.token);
    m.lock = undefined;
  }

  #lockExpired(m: StoredMessage, token: string): void {
    if (m.lock?.token !== token) return;
    this.#unlock(m);
    this.#deliveryFailed(m);
  }

  /** Abandon and lock expiry both count as a failed delivery: redeliver, or dead-letter past MaxDeliveryCount. */
  #deliveryFailed(m: StoredMessage): void {
    if (!this.settings.deadLetterQueue) m.deliveryCount++;
    if (m.wasDeferred) {
      m.state = "deferred";
      return;
    }
    if (m.deliveryCount >= this.settings.maxDeliveryCount) {
      this.#deadLetter(
        m,
        "MaxDeliveryCountExceeded",
        `Message could not be consumed after ${this.settings.maxDeliveryCount} delivery attempts.`,
      );
      return;
    }
    this.#makeAvailable(m);
  }

  #expireOne(m: StoredMessage): void {
    if (this.settings.deadLetterOnExpiration) {
      this.#deadLetter(m, "TTLExpiredException", "The message expired and was dead lettered.");
    } else {
      this.#remove(m);
    }
  }

  #deadLetter(m: StoredMessage, reason?: string, description?: string, properties?: Properties): void {
    this.#remove(m);
    if (this.deadLetterSink === undefined) return;
    const message = m.message.withApplicationProperties({
      ...properties,
      ...(reason !== undefined && reason !== null ? { DeadLetterReason: reason } : {}),
      ...(description !== undefined && description !== null
        ? { DeadLetterErrorDescription: description }
        : {}),
    });
    this.deadLetterSink(message, m.deliveryCount);
  }

  #remove(m: StoredMessage): void {
    if (this.#messages.get(m.seq) !== m) return;
    this.#unlock(m);
    if (m.scheduleTimer) clearTimeout(m.scheduleTimer);
    this.#messages.delete(m.seq);
    this.#bytes -= m.size;
    m.state = "active";
  }
}

function mergeProperties(m: StoredMessage, properties: Properties | undefined): void {
  if (properties !== undefined) m.message = m.message.withApplicationProperties(properties);
}
