import assert from "node:assert/strict";

import type { TestStack } from "../support/stack.ts";

/** What became of a batch of fulfilment messages, counted at the API and at the broker. */
export interface Conservation {
  readonly messages: number;
  /** Orders whose fulfilment was applied exactly once. */
  readonly appliedOnce: number;
  /** Orders applied more than once (must be 0). */
  readonly appliedTwice: number;
  /** Orders never applied (must be 0 at the end). */
  readonly notApplied: number;
  /** Requests the API answered from its Idempotency-Key store: redeliveries that reached it, harmlessly. */
  readonly replays: number;
  /** Messages still locked at the broker (must be 0: nobody holds a message it has finished with). */
  readonly stuck: number;
  /** Messages still on the queue (must be 0). */
  readonly active: number;
  readonly deadLettered: number;
}

/** Counts the fate of `sent` on `entity`. Call it once the run is over. */
export async function countConservation(
  stack: TestStack,
  entity: string,
  sent: ReadonlyArray<{ orderId: string }>,
): Promise<Conservation> {
  const orders = new Set(sent.map((s) => s.orderId));
  let appliedOnce = 0;
  let appliedTwice = 0;
  let notApplied = 0;
  for (const s of sent) {
    const n = stack.ordersApi.effects(s.orderId).fulfilments;
    if (n === 1) appliedOnce += 1;
    else if (n > 1) appliedTwice += 1;
    else notApplied += 1;
  }
  const replays = stack.ordersApi
    .journal()
    .filter((r) => r.replayed && r.orderId !== undefined && orders.has(r.orderId)).length;
  const counts = await stack.waitForCounts(entity, () => true);
  return {
    messages: sent.length,
    appliedOnce,
    appliedTwice,
    notApplied,
    replays,
    stuck: counts.locked,
    active: counts.active,
    deadLettered: counts.deadLettered,
  };
}

/** Waits until every order is applied and the entity is empty with nothing locked, then checks conservation. */
export async function assertConserved(
  stack: TestStack,
  entity: string,
  sent: ReadonlyArray<{ orderId: string }>,
  timeoutMs = 60_000,
): Promise<Conservation> {
  const deadline = Date.now() + timeoutMs;
  let c = await countConservation(stack, entity, sent);
  while (
    (c.appliedOnce + c.appliedTwice < c.messages || c.stuck > 0 || c.active > 0) &&
    Date.now() < deadline
  ) {
    await new Promise((r) => setTimeout(r, 100));
    c = await countConservation(stack, entity, sent);
  }
  assert.deepEqual(
    { appliedTwice: c.appliedTwice, notApplied: c.notApplied, stuck: c.stuck, active: c.active },
    { appliedTwice: 0, notApplied: 0, stuck: 0, active: 0 },
    `conservation broken: ${JSON.stringify(c)}`,
  );
  assert.equal(c.deadLettered, 0, `dead-lettered wrongly: ${JSON.stringify(c)}`);
  assert.equal(c.appliedOnce, c.messages);
  return c;
}

/** Prints one line per run, so the figures reach the test output (and the release note). */
export function report(scenario: string, run: number, c: Conservation, extra = ""): void {
  console.log(
    `conservation ${scenario} run ${run}: ${c.messages} messages, applied once ${c.appliedOnce}, twice ${c.appliedTwice}, ` +
      `replays ${c.replays}, stuck ${c.stuck}, dead-lettered ${c.deadLettered}${extra ? `, ${extra}` : ""}`,
  );
}
