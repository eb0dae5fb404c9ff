import type { ServiceBusReceivedMessage, ServiceBusReceiver } from "@azure/service-bus";
import { context as otelContext, type Span } from "@opentelemetry/api";
import { suppressTracing } from "@opentelemetry/core";
import type { Logger } from "pino";

import { ATTR } from "../telemetry/attributes.ts";
import { workerMetrics } from "../telemetry/metrics.ts";
import { isInert, SpanKind, withSpan } from "../telemetry/span.ts";
import type { Outcome } from "./outcome.ts";
import { receivedOnLiveLink, settleByLockToken } from "./servicebus-internals.ts";
import { excerpt } from "../shared/redact.ts";
import { withinTime } from "../shared/time-limit.ts";

const DISPOSITION = { complete: "complete", abandon: "abandon", deadLetter: "dead_letter" } as const;

/**
 * How a settlement ended: on the receive link; on the management link by lock token after the receive link failed
 * it; or not at all, left to the lock's expiry (the broker then redelivers, and the Idempotency-Key keeps a second
 * run from applying twice). `lockLost` means the lock was gone before we tried.
 */
export type SettlePath = "link" | "management" | "lapsed" | "lockLost";

/** Errors that say the lock is already gone: no other path can settle the message either. */
const LOCK_GONE = new Set(["MessageLockLost", "SessionLockLost", "MessageNotFound"]);

/**
 * Applies an outcome to the broker within `timeoutMs` per path. The worker owns this: it never waits on the SDK's
 * 60 s operation timeout (with retries) for a disposition that will not be answered, and it never leaves a message
 * it has finished with locked and renewed. The caller stops lock renewal before calling.
 */
export async function settle(
  receiver: ServiceBusReceiver,
  message: ServiceBusReceivedMessage,
  outcome: Outcome,
  entity: string,
  log: Logger,
  timeoutMs: number,
): Promise<SettlePath> {
  if (outcome.kind === "lockLost") {
    log.warn({ outcome: "lock_lost", why: outcome.why }, "lock lost: the broker will redeliver this message");
    return "lockLost";
  }
  const disposition = DISPOSITION[outcome.kind];
  const path = await withSpan(
    `${disposition} ${entity}`,
    {
      kind: SpanKind.CLIENT,
      attributes: () => ({
        [ATTR.MESSAGING_OPERATION_TYPE]: "settle",
        [ATTR.MESSAGING_OPERATION_NAME]: disposition,
        [ATTR.MESSAGING_DESTINATION]: entity,
        [ATTR.SERVICEBUS_DISPOSITION]: disposition,
        ...(outcome.kind === "deadLetter" ? { [ATTR.KEYLESS_DEAD_LETTER_REASON]: outcome.reason } : {}),
      }),
    },
    async (span): Promise<SettlePath> => {
      let linkError: string;
      if (receivedOnLiveLink(receiver, message)) {
        try {
          await withinTime(settleOnLink(receiver, message, outcome, span), timeoutMs, "the receive link");
          return "link";
        } catch (error) {
          if (LOCK_GONE.has((error as { code?: string }).code ?? "")) {
            log.warn(
              { outcome: disposition, err: excerpt((error as Error).message, 300) },
              "lock already lost when settling: the broker will redeliver this message",
            );
            return "lockLost";
          }
          linkError = excerpt((error as Error).message ?? String(error), 300);
        }
      } else {
        linkError = "the link the message came on is closed or was replaced";
      }
      span.addEvent("settle_fallback", { reason: linkError });
      try {
        await withinTime(
          settleByLockToken(receiver, message, outcome, timeoutMs),
          timeoutMs,
          "the management link",
        );
        log.info(
          { outcome: disposition, linkError },
          "settled through the management link by lock token (the receive link could not)",
        );
        return "management";
      } catch (error) {
        log.warn(
          {
            outcome: disposition,
            linkError,
            err: excerpt((error as Error).message ?? String(error), 300),
          },
          `could not ${disposition} the message on either link; no longer renewing its lock, so the broker redelivers it when the lock expires`,
        );
        return "lapsed";
      }
    },
  );
  workerMetrics
    .settlements()
    .add(1, { [ATTR.SERVICEBUS_DISPOSITION]: disposition, [ATTR.KEYLESS_SETTLE_PATH]: path });
  if (path === "link" || path === "management") logOutcome(outcome, log);
  return path;
}

/**
 * Settles on the receive link. The SDK's own span for it is suppressed: ours (`complete orders`, with the
 * disposition and reason) is the one settlement span, instead of two with the SDK's mixed casing beside it
 * (`ServicebusReceiver.complete`, `ServiceBusReceiver.deadLetter`). With telemetry off there is nothing to suppress.
 */
function settleOnLink(
  receiver: ServiceBusReceiver,
  message: ServiceBusReceivedMessage,
  outcome: Exclude<Outcome, { kind: "lockLost" }>,
  span: Span,
): Promise<void> {
  if (isInert(span)) return sdkSettle(receiver, message, outcome);
  return otelContext.with(suppressTracing(otelContext.active()), () => sdkSettle(receiver, message, outcome));
}

function sdkSettle(
  receiver: ServiceBusReceiver,
  message: ServiceBusReceivedMessage,
  outcome: Exclude<Outcome, { kind: "lockLost" }>,
): Promise<void> {
  if (outcome.kind === "complete") return receiver.completeMessage(message);
  if (outcome.kind === "abandon") return receiver.abandonMessage(message, { ...outcome.properties });
  return receiver.deadLetterMessage(message, {
    ...outcome.properties,
    deadLetterReason: outcome.reason,
    deadLetterErrorDescription: outcome.description,
  });
}

function logOutcome(outcome: Exclude<Outcome, { kind: "lockLost" }>, log: Logger): void {
  if (outcome.kind === "complete") log.info({ outcome: "complete" }, "message completed");
  else if (outcome.kind === "abandon")
    log.warn({ outcome: "abandon", why: excerpt(outcome.why, 300) }, "message abandoned for redelivery");
  else
    log.warn(
      { outcome: "dead_letter", reason: outcome.reason, description: outcome.description },
      "message dead-lettered",
    );
}
