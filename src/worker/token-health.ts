import type { AccessToken, GetTokenOptions, TokenCredential } from "@azure/identity";
import type { Logger } from "pino";

import { TokenAcquisitionError } from "../identity/index.ts";
import { retryDelayMs, sleep } from "./backoff.ts";
import { excerpt } from "../shared/redact.ts";
import { ATTR } from "../telemetry/attributes.ts";
import { workerMetrics } from "../telemetry/metrics.ts";

/** The Service Bus token source's name in readiness and logs; APIs go by their configured name. */
export const SERVICE_BUS_SOURCE = "servicebus";

/** The scope @azure/service-bus asks the credential for (CBS tokens), double slash and all; probes ask the same. */
export const SERVICE_BUS_SCOPE = "https://servicebus.azure.net//.default";

export interface SourceHealth {
  readonly ok: boolean;
  /** Why it is down, safe to show (no token, no secret). */
  readonly problem?: string;
  /** What to do about it. */
  readonly fix?: string;
  /** ISO time it went down. */
  readonly since?: string;
}

/**
 * Whether each token source (Service Bus, and every API) is giving tokens. A source goes down on the first failed
 * token request (the credential has already retried by then, or our timeout gave up on it) and comes back up on the
 * first success. While one is down a probe asks for a token with backoff, so recovery is seen without traffic.
 *
 * What depends on it: readiness (not ready while any source is down), receiving (paused while any source is down,
 * so the worker takes nothing it cannot process), and deliveries (a message whose API is down waits here, lock kept,
 * without spending an attempt). An identity outage therefore never turns into abandons, redeliveries or
 * dead-letters: see docs/configuration.md, "Identity outages and MaxDeliveryCount".
 */
export class TokenHealth {
  readonly #sources = new Map<string, { ok: boolean; problem?: string; fix?: string; since?: number }>();
  readonly #probes = new Map<string, () => Promise<unknown>>();
  readonly #probing = new Set<string>();
  readonly #log: Logger;
  readonly #stop: AbortSignal;
  readonly #fixFor: ((source: string, error: unknown) => string | undefined) | undefined;
  #waiters: Array<() => void> = [];

  constructor(options: {
    log: Logger;
    stop: AbortSignal;
    /** What to do about a failed token request (src/worker/fixes.ts). */
    fixFor?: (source: string, error: unknown) => string | undefined;
  }) {
    this.#log = options.log;
    this.#stop = options.stop;
    this.#fixFor = options.fixFor;
  }

  /** Registers a source with the call that proves it healthy again (a token request). */
  register(source: string, probe: () => Promise<unknown>): void {
    this.#sources.set(source, { ok: true });
    this.#probes.set(source, probe);
  }

  get allUp(): boolean {
    for (const s of this.#sources.values()) if (!s.ok) return false;
    return true;
  }

  isUp(source: string): boolean {
    return this.#sources.get(source)?.ok ?? true;
  }

  report(): Record<string, SourceHealth> {
    return Object.fromEntries(
      [...this.#sources].map(([name, s]) => [
        name,
        s.ok
          ? { ok: true }
          : {
              ok: false,
              ...(s.problem !== undefined ? { problem: s.problem } : {}),
              ...(s.fix !== undefined ? { fix: s.fix } : {}),
              ...(s.since !== undefined ? { since: new Date(s.since).toISOString() } : {}),
            },
      ]),
    );
  }

  succeeded(source: string): void {
    const s = this.#sources.get(source);
    if (!s || s.ok) return;
    const downForMs = Date.now() - (s.since ?? Date.now());
    this.#sources.set(source, { ok: true });
    this.#log.info({ source, downForMs }, `tokens for ${source} are back: resuming`);
    workerMetrics.tokenOutages().add(-1, { [ATTR.KEYLESS_TOKEN_SOURCE]: source });
    this.#waiters.splice(0).forEach((wake) => wake());
  }

  failed(source: string, error: unknown): void {
    const s = this.#sources.get(source);
    if (!s) return;
    const problem = excerpt((error as Error)?.message ?? String(error), 300);
    const fix = this.#fixFor?.(source, error);
    if (!s.ok) {
      s.problem = problem;
      return;
    }
    this.#sources.set(source, {
      ok: false,
      problem,
      ...(fix !== undefined ? { fix } : {}),
      since: Date.now(),
    });
    this.#log.warn(
      { source, err: problem, ...(fix !== undefined ? { fix } : {}) },
      `no tokens for ${source}: not ready, not taking new messages; held messages wait without spending attempts${fix ? `. Fix: ${fix}` : ""}`,
    );
    workerMetrics.tokenOutages().add(1, { [ATTR.KEYLESS_TOKEN_SOURCE]: source });
    void this.#probe(source);
  }

  /** Resolves once every source is up (at once if they are); rejects with the signal's reason when it aborts. */
  waitForAll(signal: AbortSignal): Promise<void> {
    return this.#waitUntil(() => this.allUp, signal);
  }

  /** Resolves once `source` is up; rejects with the signal's reason when it aborts. */
  waitFor(source: string, signal: AbortSignal): Promise<void> {
    return this.#waitUntil(() => this.isUp(source), signal);
  }

  async #waitUntil(condition: () => boolean, signal: AbortSignal): Promise<void> {
    while (!condition()) {
      if (signal.aborted) throw signal.reason as Error;
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(signal.reason as Error);
        signal.addEventListener("abort", onAbort, { once: true });
        this.#waiters.push(() => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        });
      });
    }
  }

  async #probe(source: string): Promise<void> {
    const probe = this.#probes.get(source);
    if (!probe || this.#probing.has(source)) return;
    this.#probing.add(source);
    try {
      for (let attempt = 1; !this.isUp(source) && !this.#stop.aborted; attempt += 1) {
        await sleep(retryDelayMs(attempt, { baseMs: 500, maxMs: 15_000, random: () => 1 }), this.#stop).catch(
          () => undefined,
        );
        if (this.isUp(source) || this.#stop.aborted) break;
        try {
          await probe();
          this.succeeded(source);
        } catch (error) {
          this.failed(source, error);
        }
      }
    } finally {
      this.#probing.delete(source);
    }
  }
}

/** The Service Bus credential, reporting each token request's result to `health` (the SDK calls it itself). */
export function reportingCredential(credential: TokenCredential, health: TokenHealth): TokenCredential {
  return {
    async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
      try {
        const token = await credential.getToken(scopes, options);
        if (token) health.succeeded(SERVICE_BUS_SOURCE);
        else health.failed(SERVICE_BUS_SOURCE, new Error("the credential returned no token"));
        return token;
      } catch (error) {
        health.failed(SERVICE_BUS_SOURCE, error);
        throw error;
      }
    },
  };
}

/** True for a failure to get a token at all (endpoint down, timeout), as opposed to a token without a role. */
export function isTokenUnavailable(error: unknown): boolean {
  for (let e = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth += 1) {
    if (e instanceof TokenAcquisitionError) return true;
  }
  return false;
}
