/**
 * A session-enabled queue or subscription (RequiresSession: true). Its messages are partitioned by session id (the
 * AMQP group-id): one MessageStore per session, sharing the entity's sequence numbers, size limit and dead-letter
 * queue, so each session is FIFO on its own. One receiver at a time holds a session, under a session lock of
 * LockDuration that $management renews; the locks of the session's messages last exactly as long as it.
 *
 * When the session lock expires, or the link holding it goes, the messages it held are available again (each counted
 * as a failed delivery, like an expired message lock) and the session is free for the next receiver. A receiver
 * asking for the next available session waits (its attach unanswered) until a session with available messages is
 * unlocked or its timeout passes. Session state stays until it is set to null or empty.
 */
import {
  type AmqpRefusal,
  messageNotFound,
  quotaExceeded,
  sessionCannotBeLocked,
  sessionIdMissing,
  sessionLockLost,
} from "./errors.ts";
import {
  type EnqueueOptions,
  MessageStore,
  type Outcome,
  type StoredMessage,
  type StoreSettings,
  type StoreStats,
} from "./message-store.ts";
import type { WireMessage } from "./wire-message.ts";

/** The receiving link that holds a session lock. */
export interface SessionHolder {
  /** The link's name: $management requests name it as `associated-link-name`. */
  readonly linkName: string;
  /** The session lock expired: detach the link with this error. */
  lost(error: AmqpRefusal): void;
}

export interface Session {
  readonly id: string;
  readonly store: MessageStore;
  state: Buffer | undefined;
  /** Last enqueue or state change, for get-message-sessions' last-updated-time filter. */
  updatedAtMs: number;
  lock: { readonly holder: SessionHolder; lockedUntilMs: number; timer: NodeJS.Timeout } | undefined;
}

interface Waiter {
  readonly holder: SessionHolder;
  readonly granted: (session: Session) => void;
  readonly timer: NodeJS.Timeout;
}

const NO_SESSION_REASON = "Session id is null.";
const NO_SESSION_DESCRIPTION =
  "Session enabled entity doesn't allow a message whose session identifier is null.";

export class SessionStore {
  readonly path: string;
  readonly settings: StoreSettings;
  deadLetterSink: ((message: WireMessage, deliveryCount: number) => void) | undefined;
  /** Sessions with messages, state or a lock, in the order they appeared. */
  readonly #sessions = new Map<string, Session>();
  #waiters: Waiter[] = [];
  #nextSeq = 1;
  #closed = false;

  constructor(path: string, settings: StoreSettings) {
    this.path = path;
    this.settings = settings;
  }

  /**
   * Adds a message to its session. Without a session id a sent message is refused, as Azure refuses it; one that
   * arrived by fan-out or forwarding is dead-lettered with Azure's reason instead.
   */
  enqueue(message: WireMessage, options: EnqueueOptions = {}): number {
    const id = sessionIdOf(message);
    if (id === undefined) {
      if (!options.routed) throw sessionIdMissing();
      this.deadLetterSink?.(
        message.withApplicationProperties({
          DeadLetterReason: NO_SESSION_REASON,
          DeadLetterErrorDescription: NO_SESSION_DESCRIPTION,
        }),
        0,
      );
      return this.#nextSeq++;
    }
    if (this.bytes + message.size > this.settings.maxSizeBytes) {
      throw quotaExceeded(
        `The maximum entity size has been reached or exceeded for '${this.path}' (${this.settings.maxSizeBytes} bytes).`,
      );
    }
    const session = this.#session(id);
    session.updatedAtMs = Date.now();
    return session.store.enqueue(message, options);
  }

  /** Locks the named session for `holder`, whether or not it has messages; refused while another holds it. */
  acceptNamed(id: string, holder: SessionHolder): Session {
    const session = this.#session(id);
    if (session.lock !== undefined) throw sessionCannotBeLocked(id);
    this.#lock(session, holder);
    return session;
  }

  /** Locks the unlocked session whose next available message is oldest, if there is one. */
  acceptNext(holder: SessionHolder): Session | undefined {
    let best: Session | undefined;
    let bestSeq = Infinity;
    for (const s of this.#sessions.values()) {
      if (s.lock !== undefined) continue;
      const seq = s.store.firstAvailableSeq();
      if (seq !== undefined && seq < bestSeq) [best, bestSeq] = [s, seq];
    }
    if (best !== undefined) this.#lock(best, holder);
    return best;
  }

  /**
   * Waits for a session acceptNext would give: `granted` gets it locked for `holder`, or `timedOut` runs after
   * `timeoutMs`. Waiters are served in arrival order. Returns a cancel function (the link went away).
   */
  waitForNext(
    holder: SessionHolder,
    timeoutMs: number,
    granted: (session: Session) => void,
    timedOut: () => void,
  ): () => void {
    const timer = setTimeout(() => {
      this.#waiters = this.#waiters.filter((w) => w !== waiter);
      timedOut();
    }, timeoutMs);
    timer.unref();
    const waiter: Waiter = { holder, granted, timer };
    this.#waiters.push(waiter);
    return () => {
      clearTimeout(timer);
      this.#waiters = this.#waiters.filter((w) => w !== waiter);
    };
  }

  /** The holder's link went away: its session lock ends and the messages it held are available again. */
  release(session: Session, holder: SessionHolder): void {
    if (session.lock?.holder !== holder) return;
    clearTimeout(session.lock.timer);
    session.lock = undefined;
    session.store.releaseLocks();
    this.#forgetIfIdle(session);
    this.#offer();
  }

  /** Extends the session lock by LockDuration from now; returns the new locked-until time. */
  renewSessionLock(id: string, linkName: string | undefined): number {
    const session = this.lockedSession(id, linkName);
    const lock = session.lock!;
    clearTimeout(lock.timer);
    this.#lock(session, lock.holder);
    return session.lock!.lockedUntilMs;
  }

  getState(id: string, linkName: string | undefined): Buffer | undefined {
    return this.lockedSession(id, linkName).state;
  }

  /** Sets the session state; null or empty removes it. */
  setState(id: string, state: Buffer | undefined, linkName: string | undefined): void {
    const session = this.lockedSession(id, linkName);
    session.state = state === undefined || state.length === 0 ? undefined : Buffer.from(state);
    session.updatedAtMs = Date.now();
  }

  /**
   * The session, when its lock is held (by the link `linkName` names, when the request names one): $management
   * operations of a session need the lock, and Azure answers SessionLockLost without it.
   */
  lockedSession(id: string, linkName: string | undefined): Session {
    const session = this.#sessions.get(id);
    const lock = session?.lock;
    if (lock === undefined || (linkName !== undefined && lock.holder.linkName !== linkName)) {
      throw sessionLockLost();
    }
    return session!;
  }

  /** A message lock's settlement through $management: in the named session, or the one holding the lock. */
  settle(lockToken: string, outcome: Outcome, sessionId: string | undefined): void {
    this.#holding(lockToken, sessionId).store.settle(lockToken, outcome);
  }

  /** A session's message locks follow its session lock: renewing one answers the session's locked-until. */
  renewMessageLock(lockToken: string, sessionId: string | undefined): number {
    return this.#holding(lockToken, sessionId).store.renewLock(lockToken);
  }

  /** Deferred messages of a locked session, by sequence number. */
  receiveDeferred(
    seqs: readonly number[],
    receiveAndDelete: boolean,
    sessionId: string,
    linkName: string | undefined,
  ): StoredMessage[] {
    return this.lockedSession(sessionId, linkName).store.receiveDeferred(seqs, receiveAndDelete);
  }

  /** One session's messages (an unknown session has none), or, without a session id, every session's in sequence order. */
  peek(fromSeq: number, count: number, sessionId: string | undefined): StoredMessage[] {
    if (sessionId !== undefined) return this.#sessions.get(sessionId)?.store.peek(fromSeq, count) ?? [];
    return [...this.#sessions.values()]
      .flatMap((s) => s.store.peek(fromSeq, count))
      .sort((a, b) => a.seq - b.seq)
      .slice(0, count);
  }

  /** get-message-sessions: sessions with messages or state, changed after `updatedAfterMs`. */
  listSessions(skip: number, top: number, updatedAfterMs: number): string[] {
    return [...this.#sessions.values()]
      .filter((s) => (s.store.size > 0 || s.state !== undefined) && s.updatedAtMs > updatedAfterMs)
      .map((s) => s.id)
      .slice(skip, skip + top);
  }

  cancelScheduled(seqs: readonly number[]): void {
    const bySession = new Map<Session, number[]>();
    const missing: number[] = [];
    for (const seq of seqs) {
      const session = [...this.#sessions.values()].find((s) => s.store.has(seq));
      if (session === undefined) missing.push(seq);
      else bySession.set(session, [...(bySession.get(session) ?? []), seq]);
    }
    if (missing.length > 0)
      throw messageNotFound(`No scheduled message with sequence number ${missing.join(", ")}.`);
    for (const [session, own] of bySession) session.store.cancelScheduled(own);
  }

  expire(now: number): void {
    for (const s of [...this.#sessions.values()]) {
      s.store.expire(now);
      this.#forgetIfIdle(s);
    }
  }

  stats(): StoreStats {
    // mostLocked: the sum of each session's peak, an upper bound (the peaks need not fall together).
    const total: StoreStats = { active: 0, locked: 0, scheduled: 0, deferred: 0, mostLocked: 0 };
    for (const s of this.#sessions.values()) {
      const one = s.store.stats();
      total.mostLocked += one.mostLocked;
      total.active += one.active;
      total.locked += one.locked;
      total.scheduled += one.scheduled;
      total.deferred += one.deferred;
    }
    return total;
  }

  get bytes(): number {
    let sum = 0;
    for (const s of this.#sessions.values()) sum += s.store.bytes;
    return sum;
  }

  close(): void {
    this.#closed = true;
    for (const w of this.#waiters) clearTimeout(w.timer);
    this.#waiters = [];
    for (const s of this.#sessions.values()) {
      if (s.lock) clearTimeout(s.lock.timer);
      s.store.close();
    }
    this.#sessions.clear();
  }

  #session(id: string): Session {
    let session = this.#sessions.get(id);
    if (session !== undefined) return session;
    const store = new MessageStore(
      this.path,
      {
        ...this.settings,
        maxSizeBytes: Infinity,
        underSessionLock: {
          lockedUntilMs: () => session!.lock?.lockedUntilMs ?? Date.now(),
          lockLost: sessionLockLost,
        },
      },
      () => this.#nextSeq++,
    );
    store.deadLetterSink = (message, deliveryCount) => this.deadLetterSink?.(message, deliveryCount);
    session = { id, store, state: undefined, updatedAtMs: Date.now(), lock: undefined };
    store.onAvailable = () => {
      if (session!.lock === undefined) this.#offer();
    };
    this.#sessions.set(id, session);
    return session;
  }

  #lock(session: Session, holder: SessionHolder): void {
    const timer = setTimeout(() => this.#lockExpired(session, holder), this.settings.lockDurationMs);
    timer.unref();
    session.lock = { holder, lockedUntilMs: Date.now() + this.settings.lockDurationMs, timer };
  }

  #lockExpired(session: Session, holder: SessionHolder): void {
    if (session.lock?.holder !== holder) return;
    holder.lost(sessionLockLost());
    this.release(session, holder); // in case the holder's link was already gone
  }

  #holding(lockToken: string, sessionId: string | undefined): Session {
    if (sessionId !== undefined) {
      const session = this.#sessions.get(sessionId);
      if (session?.lock === undefined) throw sessionLockLost();
      return session;
    }
    const session = [...this.#sessions.values()].find((s) => s.store.holdsLock(lockToken));
    if (session === undefined) throw sessionLockLost();
    return session;
  }

  /** Hands unlocked sessions with available messages to waiting receivers, first come first served. */
  #offer(): void {
    while (!this.#closed && this.#waiters.length > 0) {
      const waiter = this.#waiters[0]!;
      const session = this.acceptNext(waiter.holder);
      if (session === undefined) return;
      this.#waiters.shift();
      clearTimeout(waiter.timer);
      waiter.granted(session);
    }
  }

  /** A session with no messages, no state and no lock is forgotten (it comes back with its next message). */
  #forgetIfIdle(session: Session): void {
    if (session.lock === undefined && session.store.size === 0 && session.state === undefined) {
      session.store.close();
      this.#sessions.delete(session.id);
    }
  }
}

/** The AMQP group-id, which is the Service Bus session id. */
export function sessionIdOf(message: WireMessage): string | undefined {
  const id = message.decoded.group_id;
  return typeof id === "string" ? id : undefined;
}
