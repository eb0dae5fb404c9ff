/**
 * The worker's named errors. Each says when it is thrown and whether the message is worth another attempt
 * (`retryable`) or must be dead-lettered (`deadLetterReason`). Anything else a handler throws is treated as transient.
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

/** The environment cannot configure a worker; lists every problem, each naming its variable. */
export class ConfigError extends Error {
  override name = "ConfigError";
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.problems = problems;
  }
}

/** A failure that another attempt cannot fix: the message is dead-lettered with `deadLetterReason`. */
export class PermanentError extends Error {
  override name = "PermanentError";
  readonly retryable = false;
  readonly deadLetterReason: DeadLetterReason;
  constructor(reason: DeadLetterReason, message: string, options?: ErrorOptions) {
    super(message, options);
    this.deadLetterReason = reason;
  }
}

/** No handler serves the message's subject (or `type` application property). */
export class NoHandlerError extends PermanentError {
  override name = "NoHandlerError";
  constructor(subject: string | undefined, known: readonly string[]) {
    super(
      "NoHandler",
      `No handler for subject ${subject === undefined ? "(none: the message has neither subject nor application property 'type')" : `'${subject}'`}. ` +
        `This worker handles: ${known.join(", ") || "nothing"}. Send it to a worker that handles it, or add a handler.`,
    );
  }
}

/** The body is not JSON or does not match the handler's schema. */
export class InvalidBodyError extends PermanentError {
  override name = "InvalidBodyError";
  constructor(message: string) {
    super("InvalidBody", message);
  }
}

/** The API answered a 4xx that no retry can fix (400, 404, 409, 422 …). */
export class ApiRejectedError extends PermanentError {
  override name = "ApiRejectedError";
  readonly status: number;
  constructor(api: string, method: string, path: string, status: number, excerpt: string) {
    super("ApiRejected", `API "${api}" rejected ${method} ${path} with HTTP ${status}: ${excerpt}`);
    this.status = status;
  }
}

/** A handler's own verdict that the message can never succeed; `reason` becomes the dead-letter reason text. */
export class HandlerRejectedError extends PermanentError {
  override name = "HandlerRejectedError";
  readonly handlerReason: string;
  constructor(handlerReason: string, message: string) {
    super("HandlerRejected", message);
    this.handlerReason = handlerReason;
  }
}

/** A failure another attempt may fix (network, timeout, 408/429/5xx, token endpoint trouble). */
export class TransientError extends Error {
  override name = "TransientError";
  readonly retryable = true;
  /** The server asked us to wait this long (Retry-After), if it said. */
  readonly retryAfterMs: number | undefined;
  readonly status: number | undefined;
  constructor(message: string, options: ErrorOptions & { retryAfterMs?: number; status?: number } = {}) {
    super(message, options);
    this.retryAfterMs = options.retryAfterMs;
    this.status = options.status;
  }
}

/** The handler ran past WORKER_HANDLER_TIMEOUT_MS; its signal was aborted. Retryable. */
export class HandlerTimeoutError extends TransientError {
  override name = "HandlerTimeoutError";
}

/** The message's lock could not be renewed; the broker will redeliver it, so we must stop working on it. */
export class LockLostError extends Error {
  override name = "LockLostError";
}

/** The worker is shutting down and the grace period ran out; the message is abandoned for prompt redelivery. */
export class ShutdownAbortError extends Error {
  override name = "ShutdownAbortError";
}
