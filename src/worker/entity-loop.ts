import type { ServiceBusClient } from "@azure/service-bus";
import type { Logger } from "pino";

import { retryDelayMs, sleep } from "./backoff.ts";
import type { EntityRef } from "./config.ts";
import type { Custody } from "./custody.ts";
import { serviceBusErrorOf } from "./fixes.ts";
import type { TokenHealth } from "./token-health.ts";
import { excerpt } from "../shared/redact.ts";

/** What each entity's loop is given, plain (receive-loop.ts) or session (session-loop.ts). */
export interface EntityLoopOptions {
  readonly client: () => ServiceBusClient;
  readonly entity: EntityRef;
  /** Grants credit and owns what it brings, across all entities (the worker's one bound). */
  readonly custody: Custody;
  /** Receiving pauses while any token source is down: nothing is taken that could not be processed. */
  readonly tokenHealth: TokenHealth;
  readonly stop: AbortSignal;
  readonly log: Logger;
  /** Told whether the loop is currently receiving successfully (readiness), and if not why and what to do. */
  readonly onHealth: (healthy: boolean, problem?: string, fix?: string) => void;
  /** What to do about a receive failure with this SDK error code and message (src/worker/fixes.ts). */
  readonly fixFor: (code: string | undefined, message: string) => string;
}

/** One entity's receiving as it is told: to readiness, and to the log once per cause. */
export interface ReceiveHealth {
  /** Failures since the last success: what the backoff between tries grows with. */
  readonly failures: number;
  /** Receiving works (again): readiness says so, and a recovery is logged once at info. */
  recovered(): void;
  /** A try failed: readiness says why and what to do; each cause once at warn with its fix, again at debug. */
  failed(error: unknown): void;
  /** After failures, waits before the next try (exponential backoff) so a refused link is not retried hot. */
  backoff(): Promise<void>;
}

export function receiveHealth(o: EntityLoopOptions, again: string): ReceiveHealth {
  const path = o.entity.path;
  let failures = 0;
  let lastProblem: string | undefined;
  return {
    get failures() {
      return failures;
    },
    recovered() {
      failures = 0;
      if (lastProblem !== undefined) {
        o.log.info({ entity: path }, "receiving again");
        lastProblem = undefined;
      }
      o.onHealth(true);
    },
    failed(error) {
      failures += 1;
      const { code, message } = serviceBusErrorOf(error);
      const cause = code ?? (error as Error | undefined)?.name ?? "Error";
      const problem = excerpt(`${cause}: ${message}`, 300);
      const fix = o.fixFor(code, message);
      o.onHealth(false, problem, fix);
      // The SDK's retries that follow go to debug: the cloud may heal, and one line per cause is enough to act on.
      if (cause !== lastProblem) {
        o.log.warn({ entity: path, err: problem, fix }, `cannot receive from ${path}: ${fix} (retrying)`);
        lastProblem = cause;
      } else o.log.debug({ entity: path, err: problem }, again);
    },
    async backoff() {
      if (failures > 0 && !o.stop.aborted) {
        await sleep(retryDelayMs(failures, { baseMs: 500, maxMs: 10_000 }), o.stop).catch(() => undefined);
      }
    },
  };
}
