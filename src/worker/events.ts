import type { OutcomeEvent } from "./dispatcher.ts";
import type { WorkerState } from "./lifecycle.ts";

/** What a worker tells its watchers (the dev view, tests, a host's own metrics), typed, in the order it happens. */
export type WorkerEvent =
  | { readonly type: "state"; readonly state: WorkerState; readonly previous: WorkerState }
  | {
      readonly type: "delivery.started";
      readonly entity: string;
      readonly messageId: string;
      readonly subject: string | undefined;
      readonly deliveryCount: number;
      readonly attempt: number;
    }
  | {
      readonly type: "delivery.retried";
      readonly entity: string;
      readonly messageId: string;
      readonly subject: string | undefined;
      /** The attempt that failed. */
      readonly attempt: number;
      readonly delayMs: number;
      readonly reason: string;
    }
  | ({ readonly type: "delivery.settled" } & OutcomeEvent);

export type WorkerEventType = WorkerEvent["type"];
export type WorkerEventOf<T extends WorkerEventType> = Extract<WorkerEvent, { type: T }>;

/**
 * A typed event stream. Listeners run synchronously where the event happens; one that throws is reported to
 * `onListenerError` and never disturbs the worker.
 */
export class WorkerEvents {
  readonly #listeners = new Map<WorkerEventType, Set<(event: never) => void>>();
  readonly #onListenerError: (error: unknown) => void;

  constructor(onListenerError: (error: unknown) => void) {
    this.#onListenerError = onListenerError;
  }

  /** Subscribes to one kind of event; returns the unsubscribe function. */
  on<T extends WorkerEventType>(type: T, listener: (event: WorkerEventOf<T>) => void): () => void {
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, (set = new Set()));
    set.add(listener as (event: never) => void);
    return () => set.delete(listener as (event: never) => void);
  }

  emit(event: WorkerEvent): void {
    const set = this.#listeners.get(event.type);
    if (!set) return;
    for (const listener of set) {
      try {
        (listener as (event: WorkerEvent) => void)(event);
      } catch (error) {
        this.#onListenerError(error);
      }
    }
  }
}
