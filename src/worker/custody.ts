/**
 * One custody of locked messages: what the worker holds at the broker, across all its entities, from the moment it
 * grants credit to the moment a message is settled (or given up to its lock's expiry).
 *
 * The bound: a worker holds at most `budget` (WORKER_CONCURRENCY + WORKER_READ_AHEAD) messages, counting both the
 * messages it has received and not yet settled and the credit it has granted and not yet seen used. Credit is
 * reserved when it is granted, not counted when messages arrive, so a pending receive can never bring more than the
 * room it was given.
 *
 * The share: each entity is entitled to an even share of the budget (the remainder goes to the first entities). An
 * entity that looked empty on its last receive keeps a one-credit probe and lends the rest of its share to the busy
 * ones; as soon as it brings messages again it is entitled to its whole share, and the borrowers get no new credit
 * until they are back within theirs (their messages settle within one handler run). So with every entity busy, each
 * holds at most its share; with one busy entity, it can use nearly the whole budget.
 */

export type CustodyState = "waiting" | "running" | "settling";

/** One message in the worker's custody. Its slot is freed by `release()`, exactly once. */
export interface CustodyRecord {
  readonly entity: string;
  state: CustodyState;
  release(): void;
}

/**
 * Credit granted to the broker for one entity. A receive call turns it into held messages at once with `admit(n)`;
 * a standing window turns it into held messages one by one with `take()`, as they arrive, and gives back what the
 * broker did not use with `close()` (a drain, or a link that went away).
 */
export interface Reservation {
  readonly credit: number;
  /** Credit granted and not yet used by a message nor given back. */
  readonly remaining: number;
  /** One message arrived on this credit. `onRelease` runs once, after its slot is freed. */
  take(onRelease?: () => void): CustodyRecord;
  /**
   * The unused credit comes back. `sawEmpty` (default: nothing was taken) says the entity looked empty: only credit
   * that stood unused for the full wait can say so, since a short wait while messages flow may end empty from latency.
   */
  close(options?: { sawEmpty?: boolean }): void;
  /**
   * `take` `count` times and `close`: for a receive call that returns its messages together. `onRelease` runs once
   * per record, after its slot is freed (the receive loop closes retired receivers).
   */
  admit(count: number, options?: { onRelease?: () => void; sawEmpty?: boolean }): CustodyRecord[];
  /** The receive failed: the credit comes back, and the entity is not taken for empty. */
  fail(): void;
}

interface EntityUsage {
  readonly share: number;
  reserved: number;
  held: number;
  /** Its last receive came back empty: it keeps a probe credit and lends the rest of its share. */
  idle: boolean;
  readonly states: Record<CustodyState, number>;
}

export interface CustodySnapshot {
  readonly budget: number;
  readonly held: number;
  readonly reserved: number;
  readonly entities: Readonly<
    Record<
      string,
      { share: number; held: number; reserved: number; idle: boolean; states: Record<CustodyState, number> }
    >
  >;
}

export class Custody {
  readonly budget: number;
  readonly #entities = new Map<string, EntityUsage>();
  #waiters: Array<() => void> = [];
  #idleWaiters: Array<() => void> = [];

  constructor(budget: number, entities: readonly string[]) {
    if (entities.length === 0) throw new RangeError("custody needs at least one entity");
    if (budget < entities.length) {
      throw new RangeError(
        `a budget of ${budget} cannot give each of ${entities.length} entities one message`,
      );
    }
    this.budget = budget;
    const base = Math.floor(budget / entities.length);
    const extra = budget % entities.length;
    entities.forEach((path, i) => {
      this.#entities.set(path, {
        share: base + (i < extra ? 1 : 0),
        reserved: 0,
        held: 0,
        idle: false,
        states: { waiting: 0, running: 0, settling: 0 },
      });
    });
  }

  /** How many entities share the budget: with one, there is nobody to lend to. */
  get entities(): number {
    return this.#entities.size;
  }

  /** Messages held (received, not yet settled) across all entities. */
  get held(): number {
    let n = 0;
    for (const e of this.#entities.values()) n += e.held;
    return n;
  }

  get #used(): number {
    let n = 0;
    for (const e of this.#entities.values()) n += e.held + e.reserved;
    return n;
  }

  /** How much `entity` may hold right now: its share, plus what idle entities lend, split among the busy ones. */
  limitOf(entity: string): number {
    const own = this.#usage(entity);
    if (own.idle) return own.share;
    let lent = 0;
    let busy = 0;
    for (const e of this.#entities.values()) {
      if (e.idle) lent += Math.max(0, e.share - Math.max(1, e.held + e.reserved));
      else busy += 1;
    }
    return own.share + Math.floor(lent / Math.max(1, busy));
  }

  /** The most `entity` could be granted were nothing of its own held or reserved. */
  #ceiling(entity: string): number {
    const own = this.#usage(entity);
    return Math.max(
      1,
      Math.min(own.idle ? 1 : this.limitOf(entity), this.budget - this.#used + own.held + own.reserved),
    );
  }

  /** Credit `entity` could be granted now: 0 means wait. */
  #grantable(entity: string): number {
    const own = this.#usage(entity);
    const want = own.idle ? 1 : this.limitOf(entity);
    return Math.max(0, Math.min(want - own.held - own.reserved, this.budget - this.#used));
  }

  /**
   * Waits until `entity` may be granted credit and reserves it. Rejects with the signal's reason when it aborts.
   * The caller passes `credit` to one receive call and then calls `admit` with what it brought (0 on failure).
   */
  async reserve(
    entity: string,
    signal: AbortSignal,
    options: { atLeast?: () => number; max?: number } = {},
  ): Promise<Reservation> {
    // `atLeast` (asked again after every change): a standing window tops up in batches, not one credit at a time.
    // `max`: a session receives one message at a time, so it asks for one credit, never the entity's whole room.
    const grantable = () => Math.min(this.#grantable(entity), options.max ?? Number.POSITIVE_INFINITY);
    const enough = (credit: number) =>
      credit > 0 && credit >= Math.min(options.atLeast?.() ?? 1, this.#ceiling(entity));
    let credit = grantable();
    while (!enough(credit)) {
      await this.#waitForChange(signal);
      credit = grantable();
    }
    const usage = this.#usage(entity);
    usage.reserved += credit;
    let remaining = credit;
    let taken = 0;
    let open = true;
    const take = (onRelease?: () => void): CustodyRecord => {
      if (!open) throw new Error("reservation already closed");
      if (remaining === 0) throw new RangeError(`received more than ${credit} messages on ${credit} credit`);
      remaining -= 1;
      taken += 1;
      usage.reserved -= 1;
      usage.idle = false;
      const record = this.#hold(entity, usage, onRelease);
      // Wakes the waiters: an entity that was idle is entitled to its whole share again (the others' limits changed),
      // and a window waiting to top up in a batch may have just used its last credit.
      this.#wake();
      return record;
    };
    const close = (options: { sawEmpty?: boolean } = {}) => {
      if (!open) return;
      open = false;
      usage.reserved -= remaining;
      remaining = 0;
      if (taken === 0 && (options.sawEmpty ?? true)) usage.idle = true;
      this.#wake();
    };
    return {
      credit,
      get remaining() {
        return remaining;
      },
      take,
      close,
      admit: (count: number, options: { onRelease?: () => void; sawEmpty?: boolean } = {}) => {
        if (!open) throw new Error("reservation already admitted");
        if (count > credit) throw new RangeError(`received ${count} messages on ${credit} credit`);
        const records = Array.from({ length: count }, () => take(options.onRelease));
        close(options.sawEmpty === undefined ? {} : { sawEmpty: options.sawEmpty });
        return records;
      },
      fail: () => close({ sawEmpty: false }),
    };
  }

  /**
   * Holds a message that came without credit of ours: one a replaced link delivered after its credit was given back.
   * It counts against the budget like any other, so the custody lets nothing new in until it is settled.
   */
  adopt(entity: string, onRelease?: () => void): CustodyRecord {
    const usage = this.#usage(entity);
    usage.idle = false;
    return this.#hold(entity, usage, onRelease);
  }

  /**
   * `entity` found nothing to receive without a reservation to say it with (no session to accept): while it holds and
   * reserves nothing it counts as empty, keeping a probe credit and lending the rest of its share, as after a drain.
   */
  lookedEmpty(entity: string): void {
    const usage = this.#usage(entity);
    if (usage.idle || usage.held + usage.reserved > 0) return;
    usage.idle = true;
    this.#wake();
  }

  /** Resolves when nothing is held (the reservations of stopped receive loops are already admitted). */
  idle(): Promise<void> {
    if (this.held === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  snapshot(): CustodySnapshot {
    const entities: Record<string, CustodySnapshot["entities"][string]> = {};
    let reserved = 0;
    for (const [path, e] of this.#entities) {
      entities[path] = {
        share: e.share,
        held: e.held,
        reserved: e.reserved,
        idle: e.idle,
        states: { ...e.states },
      };
      reserved += e.reserved;
    }
    return { budget: this.budget, held: this.held, reserved, entities };
  }

  #hold(entity: string, usage: EntityUsage, onRelease: (() => void) | undefined): CustodyRecord {
    usage.held += 1;
    usage.states.waiting += 1;
    let state: CustodyState = "waiting";
    let released = false;
    return {
      entity,
      get state() {
        return state;
      },
      set state(next: CustodyState) {
        if (released) return;
        usage.states[state] -= 1;
        usage.states[next] += 1;
        state = next;
      },
      release: () => {
        if (released) return;
        released = true;
        usage.states[state] -= 1;
        usage.held -= 1;
        onRelease?.();
        this.#wake();
        if (this.held === 0) this.#idleWaiters.splice(0).forEach((wake) => wake());
      },
    };
  }

  #usage(entity: string): EntityUsage {
    const usage = this.#entities.get(entity);
    if (!usage) throw new RangeError(`entity ${entity} is not in this custody`);
    return usage;
  }

  #wake(): void {
    this.#waiters.splice(0).forEach((wake) => wake());
  }

  #waitForChange(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason as Error);
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(signal.reason as Error);
      signal.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(() => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      });
    });
  }
}
