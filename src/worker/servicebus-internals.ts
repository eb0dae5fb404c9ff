/**
 * The two places where the worker reaches past @azure/service-bus 7.9.5's public surface, kept here so an SDK
 * upgrade breaks one file (and test/worker/servicebus-internals.test.ts) rather than settlement.
 *
 * Why: the SDK settles a message on the link it was received on, and when it has replaced that link under the same
 * name (it does after a drain that timed out) the disposition goes out for a delivery the broker no longer knows and
 * is never answered; the call waits the full operation timeout, with retries. Service Bus also settles a peek-lock
 * message by its lock token on the entity's management link (`com.microsoft:update-disposition`), which the SDK itself
 * uses for deferred messages and when the receive link is gone. These two helpers let the worker see a stale link at
 * once and settle through the management link when the receive link fails it.
 */
import type { ServiceBusReceivedMessage, ServiceBusReceiver } from "@azure/service-bus";

interface RheaLink {
  name?: string;
  is_open?: () => boolean;
}
interface SdkMessage {
  delivery?: { link?: RheaLink; remote_settled?: boolean };
  lockToken?: string;
}
interface SdkManagementClient {
  updateDispositionStatus(
    lockToken: string,
    disposition: "complete" | "abandon" | "deadletter",
    options: {
      propertiesToModify?: Record<string, unknown>;
      deadLetterReason?: string;
      deadLetterDescription?: string;
      timeoutInMs?: number;
      /** A session's message is settled under its session's lock: the request names the session. */
      sessionId?: string;
    },
  ): Promise<void>;
}
interface SdkReceiver {
  entityPath?: string;
  _context?: {
    getManagementClient?(entityPath: string): SdkManagementClient;
    messageReceivers?: Record<string, { link?: { _link?: RheaLink } } | undefined>;
  };
}

/**
 * False when the link `message` came on is known to be closed or replaced, so settling on it cannot be answered.
 * True when it is open, and also when the SDK's shape is not the one we know (then the settle timeout still bounds it).
 */
export function receivedOnLiveLink(
  receiver: ServiceBusReceiver,
  message: ServiceBusReceivedMessage,
): boolean {
  const link = (message as unknown as SdkMessage).delivery?.link;
  if (!link || typeof link.is_open !== "function") return true;
  if (!link.is_open()) return false;
  const current = link.name
    ? (receiver as unknown as SdkReceiver)._context?.messageReceivers?.[link.name]?.link?._link
    : undefined;
  return current === undefined || current === link;
}

export type ManagementDisposition =
  | { readonly kind: "complete" }
  | { readonly kind: "abandon"; readonly properties: Readonly<Record<string, string | number>> }
  | {
      readonly kind: "deadLetter";
      readonly reason: string;
      readonly description: string;
      readonly properties: Readonly<Record<string, string | number>>;
    };

/** Settles by lock token on the entity's management link. Throws when the SDK lacks the internals we use. */
export async function settleByLockToken(
  receiver: ServiceBusReceiver,
  message: ServiceBusReceivedMessage,
  disposition: ManagementDisposition,
  timeoutMs: number,
): Promise<void> {
  const sdk = receiver as unknown as SdkReceiver;
  const lockToken = (message as unknown as SdkMessage).lockToken;
  const management = sdk.entityPath ? sdk._context?.getManagementClient?.(sdk.entityPath) : undefined;
  if (!management || !lockToken) {
    throw new Error("this @azure/service-bus version offers no settlement by lock token");
  }
  const common = {
    timeoutInMs: timeoutMs,
    ...(message.sessionId !== undefined ? { sessionId: message.sessionId } : {}),
  };
  if (disposition.kind === "complete") {
    await management.updateDispositionStatus(lockToken, "complete", common);
  } else if (disposition.kind === "abandon") {
    await management.updateDispositionStatus(lockToken, "abandon", {
      ...common,
      propertiesToModify: { ...disposition.properties },
    });
  } else {
    await management.updateDispositionStatus(lockToken, "deadletter", {
      ...common,
      propertiesToModify: { ...disposition.properties },
      deadLetterReason: disposition.reason,
      deadLetterDescription: disposition.description,
    });
  }
}

interface SdkReceiverHelper {
  addCredit(credits: number): void;
  drain(): Promise<void>;
}
interface SdkStreamingReceiver {
  _receiverHelper?: SdkReceiverHelper;
  maxConcurrentCalls?: number;
  link?: { credit?: number; isOpen?: () => boolean };
}

/** The credit of a subscribed receiver's link, granted by the worker alone. */
export interface LinkCredit {
  /**
   * Grants `n` more credit on the current link and returns that link. Throws when there is no open link (the SDK is
   * re-attaching) or the subscription is closed.
   */
  add(n: number): object;
  /** The link credit goes out on now; a new one after every re-attach. */
  current(): object | undefined;
  /** Asks the broker to use or give back all outstanding credit; resolves when it has (or the SDK gave up). */
  drain(): Promise<void>;
}

/**
 * The third reach-in: after `subscribe()`, the SDK grants `maxConcurrentCalls` credit on each link it attaches and one
 * more each time `processMessage` returns. The worker's custody must grant every credit itself (it counts credit as
 * held, across entities), so the SDK's own grants are turned into nothing and the custody's go through the SDK's
 * credit helper, which knows the current link and refuses while it is closed or suspended. Call it right after
 * `subscribe()`: the SDK first grants credit after an attach, which is at least one network round trip later.
 */
export function takeLinkCredit(receiver: ServiceBusReceiver): LinkCredit {
  const streaming = (receiver as unknown as { _streamingReceiver?: SdkStreamingReceiver })._streamingReceiver;
  const helper = streaming?._receiverHelper;
  if (!streaming || !helper || typeof helper.addCredit !== "function" || typeof helper.drain !== "function") {
    throw new Error("this @azure/service-bus version offers no control of a subscription's credit");
  }
  const grant = helper.addCredit.bind(helper);
  helper.addCredit = () => undefined;
  return {
    add: (n) => {
      grant(n);
      return streaming.link as object;
    },
    current: () => streaming.link,
    drain: () => helper.drain(),
  };
}
