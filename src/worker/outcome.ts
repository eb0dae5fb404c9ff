import { HandlerTimeoutError, type DeadLetterReason, PermanentError, TransientError } from "./errors.ts";
import { excerpt } from "../shared/redact.ts";

/** How one delivery ends. Decided here, in one place, never inside handlers. */
export type Outcome =
  | { readonly kind: "complete" }
  | {
      readonly kind: "abandon";
      readonly why: string;
      readonly properties: Readonly<Record<string, string | number>>;
    }
  | {
      readonly kind: "deadLetter";
      readonly reason: DeadLetterReason;
      readonly description: string;
      readonly properties: Readonly<Record<string, string | number>>;
    }
  /** The lock is gone: the broker redelivers on its own and any settlement would fail. */
  | { readonly kind: "lockLost"; readonly why: string };

export type FailureClass =
  | { readonly kind: "permanent"; readonly reason: DeadLetterReason; readonly message: string }
  | {
      readonly kind: "transient";
      readonly message: string;
      readonly retryAfterMs?: number;
      readonly status?: number;
    };

/**
 * Sorts a failure into permanent (dead-letter) or transient (retry, then abandon). Errors we do not know are
 * transient: a bug that throws may be fixed by a deployment, and Service Bus's MaxDeliveryCount still bounds it.
 */
export function classifyFailure(error: unknown): FailureClass {
  if (error instanceof PermanentError) {
    return { kind: "permanent", reason: error.deadLetterReason, message: error.message };
  }
  const named = error as { name?: string; message?: string; retryable?: boolean } | undefined;
  // The identity layer's MissingAppRoleError carries all the guidance already.
  if (named?.name === "MissingAppRoleError") {
    return { kind: "permanent", reason: "MissingAppRole", message: named.message ?? "missing app role" };
  }
  if (error instanceof TransientError) {
    return {
      kind: "transient",
      message: error.message,
      ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}),
      ...(error.status !== undefined ? { status: error.status } : {}),
    };
  }
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return { kind: "transient", message };
}

/** Turns a DOMException TimeoutError from AbortSignal.timeout into our named error. */
export function normaliseAbortReason(reason: unknown, timeoutMs: number): unknown {
  if (reason instanceof DOMException && reason.name === "TimeoutError") {
    return new HandlerTimeoutError(`handler did not finish within ${timeoutMs} ms`);
  }
  return reason;
}

/** Dead-letter descriptions are read by people; Service Bus caps the field, so keep them short. */
export function describe(parts: {
  message: string;
  attempts: number;
  deliveryCount: number;
  lastStatus?: number | undefined;
  traceId?: string | undefined;
}): string {
  const facts = [
    `attempts in this delivery: ${parts.attempts}`,
    `delivery ${parts.deliveryCount + 1}`,
    ...(parts.lastStatus !== undefined ? [`last HTTP status: ${parts.lastStatus}`] : []),
    ...(parts.traceId ? [`trace id: ${parts.traceId}`] : []),
  ];
  return excerpt(`${parts.message} (${facts.join("; ")})`, 1024);
}
