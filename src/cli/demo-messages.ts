/** One demo message and what it is meant to show. */
export interface DemoMessage {
  readonly label: string;
  readonly subject: string;
  readonly body: unknown;
  readonly shows: string;
  /** Sent to the session queue (ORDERED_QUEUE) in this session, after the messages before it in the list. */
  readonly session?: string;
}

/** The session queue of the ordered flow: the worker processes it session by session (SERVICEBUS_SESSION_ENTITIES). */
export const ORDERED_QUEUE = "orders-by-order";

/**
 * The mixed batch `keyless dev` sends: ordinary work, each kind of poison message, the missing-role story, the two
 * transient paths, and an ordered flow on the session queue. Order ids that start with flaky-/throttled-/slow- make
 * the sample API misbehave on purpose.
 */
export function demoMessages(run: string): DemoMessage[] {
  return [
    {
      label: "fulfil-1",
      subject: "orders.fulfil",
      body: { orderId: `A-${run}-1` },
      shows: "an ordinary message completes",
    },
    {
      label: "fulfil-2",
      subject: "orders.fulfil",
      body: { orderId: `A-${run}-2`, warehouse: "east" },
      shows: "another one",
    },
    {
      label: "bad-body",
      subject: "orders.fulfil",
      body: { order: 42 },
      shows: "a body that fails the schema → InvalidBody",
    },
    {
      label: "no-handler",
      subject: "orders.cancel",
      body: { orderId: `A-${run}-3` },
      shows: "an unknown subject → NoHandler",
    },
    {
      label: "refund",
      subject: "orders.refund",
      body: { orderId: `A-${run}-1`, amount: 12.5, currency: "EUR" },
      shows: "the identity lacks Orders.Refund → MissingAppRole with guidance",
    },
    {
      label: "flaky",
      subject: "orders.fulfil",
      body: { orderId: `flaky-2-A-${run}-4` },
      shows: "two transient 503s, retried in-process, then completes",
    },
    {
      label: "throttled",
      subject: "orders.fulfil",
      body: { orderId: `throttled-1-A-${run}-5` },
      shows: "a 429 with Retry-After: 1, honoured, then completes",
    },
    // The ordered flow: order B's parcels in one session, the first one slow, the others waiting their turn; order
    // C's session runs beside it.
    ...[1, 2, 3].map((n) => ({
      label: `B-${n}`,
      subject: "orders.fulfil",
      body: { orderId: `${n === 1 ? "slow-800-" : ""}B-${run}.${n}` },
      shows:
        n === 1
          ? `order B, parcel 1 of 3 (slow): session B-${run} on ${ORDERED_QUEUE}`
          : `order B, parcel ${n}: waits for parcel ${n - 1}, however quick it is`,
      session: `B-${run}`,
    })),
    ...[1, 2].map((n) => ({
      label: `C-${n}`,
      subject: "orders.fulfil",
      body: { orderId: `slow-200-C-${run}.${n}` },
      shows: `order C, parcel ${n}: its own session, in parallel with B`,
      session: `C-${run}`,
    })),
  ];
}
