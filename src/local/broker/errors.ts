/**
 * The AMQP error conditions and texts the broker answers with, chosen so that @azure/service-bus 7.9.5 maps each one
 * to the ServiceBusError code a real namespace would produce (see docs/servicebus-amqp.md §8). The SDK decides
 * MessagingEntityNotFound from the *description* text, so these strings are part of the contract.
 */
import { randomUUID } from "node:crypto";

export interface AmqpErrorShape {
  readonly condition: string;
  readonly description: string;
}

/** Thrown by startBroker when Config.json does not validate; lists every problem with its JSON path. */
export class BrokerConfigError extends Error {
  override name = "BrokerConfigError";
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`Invalid Service Bus emulator config:\n  - ${problems.join("\n  - ")}`);
    this.problems = problems;
  }
}

/** A broker-side refusal that carries the AMQP condition the SDK will translate. */
export class AmqpRefusal extends Error {
  override name = "AmqpRefusal";
  readonly condition: string;
  readonly statusCode: number;
  constructor(condition: string, description: string, statusCode: number) {
    super(description);
    this.condition = condition;
    this.statusCode = statusCode;
  }
  toAmqp(): AmqpErrorShape {
    return { condition: this.condition, description: this.message };
  }
}

const trackingSuffix = () => `TrackingId:${randomUUID()}, Timestamp:${new Date().toISOString()}`;

export const entityNotFound = (resource: string) =>
  new AmqpRefusal(
    "amqp:not-found",
    `The messaging entity '${resource}' could not be found. ${trackingSuffix()}`,
    404,
  );

export const missingClaim = (claim: string, resource: string) =>
  new AmqpRefusal(
    "amqp:unauthorized-access",
    `Unauthorized access. '${claim}' claim(s) are required to perform this operation. Resource: '${resource}'. ${trackingSuffix()}`,
    401,
  );

export const invalidToken = (why: string, resource: string) =>
  new AmqpRefusal(
    "amqp:unauthorized-access",
    `InvalidSignature or expired token: ${why}. Resource: '${resource}'. ${trackingSuffix()}`,
    401,
  );

export const lockLost = () =>
  new AmqpRefusal(
    "com.microsoft:message-lock-lost",
    "The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue.",
    410,
  );

export const messageNotFound = (what: string) =>
  new AmqpRefusal("com.microsoft:message-not-found", `${what} ${trackingSuffix()}`, 404);

export const notAllowed = (why: string) => new AmqpRefusal("amqp:not-allowed", why, 400);

/** Azure's refusal of a session receiver (a com.microsoft:session-filter on the attach) on an entity without sessions. */
export const sessionfulReceiverRefused = () =>
  notAllowed(
    `A sessionful message receiver cannot be created on an entity that does not require sessions. Ensure RequiresSession is set to true when creating a Queue or Subscription to enable sessionful behavior. ${trackingSuffix()}`,
  );

/** Azure's refusal of a receiver without a session filter on an entity that requires sessions. */
export const sessionlessReceiverRefused = () =>
  notAllowed(
    `It is not possible for an entity that requires sessions to create a non-sessionful message receiver. ${trackingSuffix()}`,
  );

/** Azure's refusal of a message without a session id sent to an entity that requires sessions. */
export const sessionIdMissing = () =>
  notAllowed(
    `The SessionId was not set on a message, and it cannot be sent to the entity. Entities that have session support enabled can only receive messages that have the SessionId set to a valid value. ${trackingSuffix()}`,
  );

export const sessionCannotBeLocked = (sessionId: string) =>
  new AmqpRefusal(
    "com.microsoft:session-cannot-be-locked",
    `The requested session '${sessionId}' cannot be accepted. It may be locked by another receiver. ${trackingSuffix()}`,
    410,
  );

export const sessionLockLost = () =>
  new AmqpRefusal(
    "com.microsoft:session-lock-lost",
    `The session lock has expired on the MessageSession. Accept a new MessageSession. ${trackingSuffix()}`,
    410,
  );

/** No session became available within the accept-next timeout (the SDK's ServiceTimeout, "no session" for processors). */
export const noSessionWithin = (timeoutMs: number) =>
  new AmqpRefusal(
    "com.microsoft:timeout",
    `The operation did not complete within the allotted timeout of ${timeoutMs} ms: no unlocked session with messages became available. ${trackingSuffix()}`,
    408,
  );

export const quotaExceeded = (why: string) => new AmqpRefusal("amqp:resource-limit-exceeded", why, 403);

export const messageTooLarge = (size: number, max: number) =>
  new AmqpRefusal(
    "amqp:link:message-size-exceeded",
    `The received message (size ${size} bytes) exceeds the limit of ${max} bytes allowed by this broker.`,
    413,
  );

export const badRequest = (why: string) => new AmqpRefusal("com.microsoft:argument-error", why, 400);
