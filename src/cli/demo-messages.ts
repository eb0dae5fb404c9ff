/** One demo message and what it is meant to show. */
export interface DemoMessage {
  readonly label: string;
  readonly subject: string;
  readonly body: unknown;
  readonly shows: string;
}

/**
 * The mixed batch `keyless dev` sends: ordinary work, each kind of poison message, the missing-role story and
 * the two transient paths. Order ids that start with flaky-/throttled- make the sample API misbehave on purpose.
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
  ];
}
