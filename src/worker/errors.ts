/**
 * The worker's named errors, on the shared vocabulary of src/shared/failure.ts: each is permanent (dead-lettered with
 * its reason) or transient (retried). Anything else a handler throws is treated as transient.
 */
import { PermanentError, TransientError } from "../shared/failure.ts";

export {
  DEAD_LETTER_REASONS,
  type DeadLetterReason,
  PermanentError,
  TransientError,
} from "../shared/failure.ts";

/** The environment cannot configure a worker; lists every problem, each naming its variable. */
export class ConfigError extends Error {
  override name = "ConfigError";
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.problems = problems;
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

/**
 * A handler's own verdict that the message can never succeed (`throw new HandlerRejectedError("OrderCancelled",
 * "order A-1 was cancelled before fulfilment")`): dead-lettered at once as HandlerRejected, no retry, with the
 * handler's reason first in the description and as the message property `keyless-handler-reason`.
 */
export class HandlerRejectedError extends PermanentError {
  override name = "HandlerRejectedError";
  /** A short machine-readable reason of the handler's own, e.g. "OrderCancelled". */
  readonly handlerReason: string;
  constructor(handlerReason: string, message: string, options?: ErrorOptions) {
    super("HandlerRejected", `${handlerReason}: ${message}`, options);
    this.handlerReason = handlerReason;
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
