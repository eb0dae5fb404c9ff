/**
 * The namespace at run time: the queues, topics and subscriptions of a validated topology, each with its
 * dead-letter queue; routing of sent messages (duplicate detection, scheduling, ForwardTo, topic fan-out through
 * rule filters); the TTL sweep; and per-entity counts.
 */
import { randomUUID } from "node:crypto";

import type { EntityAddress } from "./addresses.ts";
import type {
  DeliverySettings,
  QueueSpec,
  RuleSpec,
  SubscriptionSpec,
  TopicSpec,
  Topology,
} from "./config.ts";
import { entityNotFound, messageNotFound, notAllowed, sessionIdMissing } from "./errors.ts";
import { matches } from "./filters.ts";
import { MessageStore } from "./message-store.ts";
import { sessionIdOf, SessionStore } from "./sessions.ts";
import type { WireMessage } from "./wire-message.ts";

export type EntityKind = "queue" | "topic" | "subscription";

export interface EntityStats {
  name: string;
  kind: EntityKind;
  active: number;
  locked: number;
  /** The most messages locked at once since the entity was made (for a session entity, the sum of its sessions'). */
  mostLocked: number;
  scheduled: number;
  deferred: number;
  deadLettered: number;
  sizeBytes: number;
}

export interface BrokerStats {
  namespace: string;
  entities: EntityStats[];
}

export interface NamespaceOptions {
  /** Per-entity storage cap (sum of message sizes); sends beyond it get QuotaExceeded. Default 100 MB like the emulator. */
  readonly maxEntitySizeBytes?: number;
  /** How often expired messages are retired, in ms. Default 250. */
  readonly expirySweepMs?: number;
}

/** A queue or a topic subscription: something you receive from. */
interface Receivable {
  readonly kind: "queue" | "subscription";
  readonly path: string;
  /** A SessionStore when the entity requires sessions; its dead-letter queue never does. */
  readonly store: MessageStore | SessionStore;
  readonly deadLetters: MessageStore;
}

class DuplicateDetector {
  readonly #windowMs: number;
  readonly #seen = new Map<string, number>();
  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }
  /** True when the id was seen within the window; remembers it otherwise. Memory is bounded by the window. */
  isDuplicate(id: unknown): boolean {
    if (id === undefined || id === null) return false;
    const key = Buffer.isBuffer(id) ? id.toString("hex") : String(id);
    const now = Date.now();
    for (const [k, at] of this.#seen) {
      if (at > now - this.#windowMs) break;
      this.#seen.delete(k);
    }
    if (this.#seen.has(key)) return true;
    this.#seen.set(key, now);
    return false;
  }
}

interface ScheduledOnTopic {
  readonly message: WireMessage;
  readonly timer: NodeJS.Timeout;
}

const MAX_FORWARD_HOPS = 4;
const SCHEDULED_ANNOTATION = "x-opt-scheduled-enqueue-time";

export class Namespace {
  readonly name: string;
  readonly #queues = new Map<string, { spec: QueueSpec; rx: Receivable; dedup?: DuplicateDetector }>();
  readonly #topics = new Map<
    string,
    {
      spec: TopicSpec;
      subs: Map<string, { spec: SubscriptionSpec; rx: Receivable }>;
      dedup?: DuplicateDetector;
      scheduled: Map<number, ScheduledOnTopic>;
      nextSeq: number;
    }
  >();
  readonly #sweep: NodeJS.Timeout;

  constructor(topology: Topology, options: NamespaceOptions = {}) {
    this.name = topology.namespace;
    const maxSizeBytes = options.maxEntitySizeBytes ?? 100 * 1024 * 1024;
    const receivable = (kind: Receivable["kind"], path: string, s: DeliverySettings): Receivable => {
      const store = s.requiresSession
        ? new SessionStore(path, { ...s, maxSizeBytes })
        : new MessageStore(path, { ...s, maxSizeBytes });
      const deadLetters = new MessageStore(`${path}/$DeadLetterQueue`, {
        lockDurationMs: s.lockDurationMs,
        maxDeliveryCount: Infinity,
        deadLetterQueue: true,
        defaultTtlMs: Infinity,
        deadLetterOnExpiration: false,
        maxSizeBytes,
      });
      const target = s.forwardDeadLetteredTo;
      store.deadLetterSink =
        target === undefined
          ? (message, deliveryCount) => deadLetters.enqueue(message, { deliveryCount })
          : (message) => this.send(target, message, 1);
      return { kind, path, store, deadLetters };
    };
    for (const q of topology.queues) {
      this.#queues.set(q.name.toLowerCase(), {
        spec: q,
        rx: receivable("queue", q.name, q),
        ...(q.duplicateDetectionWindowMs
          ? { dedup: new DuplicateDetector(q.duplicateDetectionWindowMs) }
          : {}),
      });
    }
    for (const t of topology.topics) {
      const subs = new Map(
        t.subscriptions.map((s) => [
          s.name.toLowerCase(),
          {
            spec: s,
            rx: receivable("subscription", `${t.name}/subscriptions/${s.name}`, {
              ...s,
              defaultTtlMs: Math.min(s.defaultTtlMs, t.defaultTtlMs),
            }),
          },
        ]),
      );
      this.#topics.set(t.name.toLowerCase(), {
        spec: t,
        subs,
        scheduled: new Map(),
        nextSeq: 1,
        ...(t.duplicateDetectionWindowMs
          ? { dedup: new DuplicateDetector(t.duplicateDetectionWindowMs) }
          : {}),
      });
    }
    this.#sweep = setInterval(() => {
      const now = Date.now();
      for (const rx of this.#receivables()) rx.store.expire(now);
    }, options.expirySweepMs ?? 250);
    this.#sweep.unref();
  }

  /**
   * The store a receiver reads from (a queue, a subscription, or either's dead-letter queue) and the entity path
   * RBAC is evaluated on. Throws the SDK's MessagingEntityNotFound text for unknown entities.
   */
  receivable(
    address: EntityAddress,
    resource: string,
  ): { store: MessageStore | SessionStore; rbacPath: string; kind: EntityKind } {
    const rx = this.#findReceivable(address, resource);
    return { store: address.deadLetter ? rx.deadLetters : rx.store, rbacPath: rx.path, kind: rx.kind };
  }

  /** The rules of a subscription (read-only: the topology comes from Config.json). */
  rules(address: EntityAddress, resource: string): { rules: readonly RuleSpec[]; rbacPath: string } {
    const s =
      address.subscription === undefined
        ? undefined
        : this.#topics.get(address.name.toLowerCase())?.subs.get(address.subscription.toLowerCase());
    if (s === undefined || address.deadLetter) throw entityNotFound(resource);
    return { rules: s.spec.rules, rbacPath: s.rx.path };
  }

  /** Checks an address can be sent to and returns the RBAC path. */
  sendable(address: EntityAddress, resource: string): { rbacPath: string; kind: EntityKind } {
    if (address.deadLetter)
      throw notAllowed(
        `Cannot send to a dead-letter queue ('${resource}'); messages only arrive there by dead-lettering.`,
      );
    if (address.subscription !== undefined) {
      this.#findReceivable(address, resource);
      throw notAllowed(`Cannot send to a subscription ('${resource}'); send to its topic.`);
    }
    const q = this.#queues.get(address.name.toLowerCase());
    if (q) return { rbacPath: q.spec.name, kind: "queue" };
    const t = this.#topics.get(address.name.toLowerCase());
    if (t) return { rbacPath: t.spec.name, kind: "topic" };
    throw entityNotFound(resource);
  }

  /**
   * Accepts one message sent to a queue or topic. Assigns a message id when absent (the SDK's lock renewer needs
   * one), honours x-opt-scheduled-enqueue-time, duplicate detection and ForwardTo, and fans topics out.
   * Returns the sequence number (undefined when dropped as a duplicate).
   */
  send(entity: string, sent: WireMessage, hops = 0): number | undefined {
    const id = sent.decoded.message_id;
    const message =
      id === undefined || id === null ? sent.withMessageId(randomUUID().replace(/-/g, "")) : sent;
    const messageId = message.decoded.message_id;
    const scheduledAt = scheduledTime(message);
    const q = this.#queues.get(entity.toLowerCase());
    if (q) {
      if (q.dedup?.isDuplicate(messageId)) return undefined;
      if (q.spec.forwardTo !== undefined && hops < MAX_FORWARD_HOPS && scheduledAt === undefined) {
        return this.send(q.spec.forwardTo, message, hops + 1);
      }
      return q.rx.store.enqueue(message, { scheduledAtMs: scheduledAt, routed: hops > 0 });
    }
    const t = this.#topics.get(entity.toLowerCase());
    if (!t) throw entityNotFound(entity);
    if (t.dedup?.isDuplicate(messageId)) return undefined;
    if (scheduledAt !== undefined && scheduledAt > Date.now()) {
      const seq = t.nextSeq++;
      const timer = setTimeout(() => {
        t.scheduled.delete(seq);
        this.#fanOut(t.subs, message, hops, true);
      }, scheduledAt - Date.now());
      timer.unref();
      t.scheduled.set(seq, { message, timer });
      return seq;
    }
    this.#fanOut(t.subs, message, hops);
    return t.nextSeq++;
  }

  /**
   * Refuses, before any is accepted, a batch with a message that lacks the session id its queue requires (Azure takes
   * a batch whole or not at all). Topics take them: their session subscriptions dead-letter such messages.
   */
  checkSessionIds(entity: string, messages: readonly WireMessage[]): void {
    const q = this.#queues.get(entity.toLowerCase());
    if (q?.rx.store instanceof SessionStore && messages.some((m) => sessionIdOf(m) === undefined))
      throw sessionIdMissing();
  }

  /** Cancels scheduled messages on a queue or topic by sequence number. */
  cancelScheduled(entity: string, seqs: readonly number[]): void {
    const q = this.#queues.get(entity.toLowerCase());
    if (q) return q.rx.store.cancelScheduled(seqs);
    const t = this.#topics.get(entity.toLowerCase());
    if (!t) throw entityNotFound(entity);
    const missing = seqs.filter((s) => !t.scheduled.has(s));
    if (missing.length > 0)
      throw messageNotFound(`No scheduled message with sequence number ${missing.join(", ")}.`);
    for (const s of seqs) {
      clearTimeout(t.scheduled.get(s)!.timer);
      t.scheduled.delete(s);
    }
  }

  stats(): BrokerStats {
    const entities: EntityStats[] = [];
    const row = (name: string, kind: EntityKind, rx: Receivable): EntityStats => {
      const s = rx.store.stats();
      const d = rx.deadLetters.stats();
      return { name, kind, ...s, deadLettered: d.active + d.locked + d.deferred, sizeBytes: rx.store.bytes };
    };
    for (const q of this.#queues.values()) entities.push(row(q.spec.name, "queue", q.rx));
    for (const t of this.#topics.values()) {
      entities.push({
        name: t.spec.name,
        kind: "topic",
        active: 0,
        locked: 0,
        mostLocked: 0,
        scheduled: t.scheduled.size,
        deferred: 0,
        deadLettered: 0,
        sizeBytes: 0,
      });
      for (const s of t.subs.values())
        entities.push(row(`${t.spec.name}/subscriptions/${s.spec.name}`, "subscription", s.rx));
    }
    return { namespace: this.name, entities };
  }

  close(): void {
    clearInterval(this.#sweep);
    for (const rx of this.#receivables()) {
      rx.store.close();
      rx.deadLetters.close();
    }
    for (const t of this.#topics.values()) for (const s of t.scheduled.values()) clearTimeout(s.timer);
  }

  *#receivables(): Generator<Receivable> {
    for (const q of this.#queues.values()) yield q.rx;
    for (const t of this.#topics.values()) for (const s of t.subs.values()) yield s.rx;
  }

  #findReceivable(address: EntityAddress, resource: string): Receivable {
    if (address.subscription === undefined) {
      const q = this.#queues.get(address.name.toLowerCase());
      if (q) return q.rx;
      throw entityNotFound(resource);
    }
    const s = this.#topics.get(address.name.toLowerCase())?.subs.get(address.subscription.toLowerCase());
    if (s) return s.rx;
    throw entityNotFound(resource);
  }

  #fanOut(
    subs: Map<string, { spec: SubscriptionSpec; rx: Receivable }>,
    message: WireMessage,
    hops: number,
    wasScheduled = false,
  ): void {
    for (const { spec, rx } of subs.values()) {
      if (!spec.rules.some((r) => matches(r.filter, message.decoded))) continue;
      // Messages are immutable (changes make new ones), so every subscription can share the one sent.
      if (spec.forwardTo !== undefined && hops < MAX_FORWARD_HOPS)
        this.send(spec.forwardTo, message, hops + 1);
      else rx.store.enqueue(message, { wasScheduled, routed: true });
    }
  }
}

function scheduledTime(message: WireMessage): number | undefined {
  const v: unknown = message.decoded.message_annotations?.[SCHEDULED_ANNOTATION];
  if (v instanceof Date) return v.getTime();
  if (typeof v === "number") return v;
  return undefined;
}
