import type { Logger } from "pino";

/**
 * The worker's states:
 * - `starting`: health server up, preflight and receivers being set up; not ready.
 * - `running`: receiving and dispatching.
 * - `draining`: stop requested; no new messages, running handlers finish within the grace period.
 * - `stopped`: everything closed; the process may exit 0.
 * - `failed`: could not start or crashed; the process should exit non-zero.
 */
export type WorkerState = "starting" | "running" | "draining" | "stopped" | "failed";

export interface Lifecycle {
  readonly state: WorkerState;
  set(next: WorkerState, detail?: Record<string, unknown>): void;
}

export function createLifecycle(
  log: Logger,
  onChange?: (state: WorkerState, previous: WorkerState) => void,
): Lifecycle {
  let state: WorkerState = "starting";
  log.info({ state }, "worker state: starting");
  return {
    get state() {
      return state;
    },
    set(next, detail) {
      if (next === state) return;
      const previous = state;
      state = next;
      log[next === "failed" ? "error" : "info"](
        { state: next, previous, ...detail },
        `worker state: ${next}`,
      );
      onChange?.(next, previous);
    },
  };
}
