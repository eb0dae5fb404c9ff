/**
 * The one error vocabulary the worker, the identity layer, the API client and handlers share: a failure is either
 * permanent (no retry can fix it; the message is dead-lettered with a reason from a fixed list) or transient (another
 * attempt may; it carries the HTTP status and Retry-After when there was one). The outcome policy
 * (src/worker/outcome.ts) decides by these classes alone; anything else a handler throws counts as transient.
 */

/** Dead-letter reasons the worker writes; one fixed list so dashboards and `keyless dlq` can rely on it. */
export const DEAD_LETTER_REASONS = [
  "NoHandler",
  "InvalidBody",
  "MissingAppRole",
  "ApiRejected",
  "HandlerRejected",
  "RetriesExhausted",
] as const;
export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

/** A failure that another attempt cannot fix: the message is dead-lettered with `deadLetterReason`. */
export class PermanentError extends Error {
  override name = "PermanentError";
  readonly deadLetterReason: DeadLetterReason;
  constructor(reason: DeadLetterReason, message: string, options?: ErrorOptions) {
    super(message, options);
    this.deadLetterReason = reason;
  }
}

/** A failure another attempt may fix (network, timeout, 408/429/5xx, token endpoint trouble). */
export class TransientError extends Error {
  override name = "TransientError";
  /** The server asked us to wait this long (Retry-After), if it said. */
  readonly retryAfterMs: number | undefined;
  readonly status: number | undefined;
  constructor(message: string, options: ErrorOptions & { retryAfterMs?: number; status?: number } = {}) {
    super(message, options);
    this.retryAfterMs = options.retryAfterMs;
    this.status = options.status;
  }
}
