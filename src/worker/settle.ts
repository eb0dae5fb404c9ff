import type { ServiceBusReceivedMessage, ServiceBusReceiver } from "@azure/service-bus";
import type { Logger } from "pino";

import { ATTR } from "../telemetry/attributes.ts";
import { SpanKind, withSpan } from "../telemetry/span.ts";
import type { Outcome } from "./outcome.ts";
import { excerpt } from "../shared/redact.ts";

const DISPOSITION = { complete: "complete", abandon: "abandon", deadLetter: "dead_letter" } as const;

/**
 * Applies an outcome to the broker. A failed settlement loses nothing: the lock expires and the message comes back
 * (the Idempotency-Key keeps a second run from applying twice), so it is logged, not thrown.
 */
export async function settle(
  receiver: Pick<ServiceBusReceiver, "completeMessage" | "abandonMessage" | "deadLetterMessage">,
  message: ServiceBusReceivedMessage,
  outcome: Outcome,
  entity: string,
  log: Logger,
): Promise<boolean> {
  if (outcome.kind === "lockLost") {
    log.warn({ outcome: "lock_lost", why: outcome.why }, "lock lost: the broker will redeliver this message");
    return false;
  }
  const disposition = DISPOSITION[outcome.kind];
  try {
    await withSpan(
      `${disposition} ${entity}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          [ATTR.MESSAGING_OPERATION_TYPE]: "settle",
          [ATTR.MESSAGING_OPERATION_NAME]: disposition,
          [ATTR.MESSAGING_DESTINATION]: entity,
          [ATTR.SERVICEBUS_DISPOSITION]: disposition,
          ...(outcome.kind === "deadLetter" ? { [ATTR.KEYLESS_DEAD_LETTER_REASON]: outcome.reason } : {}),
        },
      },
      async () => {
        if (outcome.kind === "complete") await receiver.completeMessage(message);
        else if (outcome.kind === "abandon")
          await receiver.abandonMessage(message, { ...outcome.properties });
        else {
          await receiver.deadLetterMessage(message, {
            ...outcome.properties,
            deadLetterReason: outcome.reason,
            deadLetterErrorDescription: outcome.description,
          });
        }
      },
    );
  } catch (error) {
    log.warn(
      { outcome: disposition, err: excerpt((error as Error).message ?? String(error), 300) },
      `could not ${disposition} the message; it will be redelivered when its lock expires`,
    );
    return false;
  }
  const fields =
    outcome.kind === "deadLetter"
      ? { outcome: disposition, reason: outcome.reason, description: outcome.description }
      : outcome.kind === "abandon"
        ? { outcome: disposition, why: excerpt(outcome.why, 300) }
        : { outcome: disposition };
  if (outcome.kind === "complete") log.info(fields, "message completed");
  else
    log.warn(
      fields,
      outcome.kind === "abandon" ? "message abandoned for redelivery" : "message dead-lettered",
    );
  return true;
}
