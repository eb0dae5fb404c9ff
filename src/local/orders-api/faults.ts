/**
 * Faults the sample API plays on purpose, chosen by the order id (so a worker that knows nothing about faults meets
 * them) or by an X-Fault header with the same grammar (README.md here):
 *   flaky-<n>-…      the first n requests for that order answer 503
 *   throttled-<s>-…  the first request for that order answers 429 with Retry-After: <s>
 *   slow-<ms>-…      every request answers after <ms> milliseconds (nothing happens if the caller hangs up)
 *   reject-…         every request answers 422 (a permanent business rejection)
 */
export type Fault =
  | { kind: "flaky"; failures: number }
  | { kind: "throttled"; retryAfterSeconds: number }
  | { kind: "slow"; delayMs: number }
  | { kind: "reject" };

/** The fault a text asks for, or undefined for an ordinary order id. Bounded numbers: a typo must not hang a test. */
export function parseFault(text: string | undefined): Fault | undefined {
  if (!text) return undefined;
  let m = /^flaky-(\d{1,3})(?:-|$)/.exec(text);
  if (m) return { kind: "flaky", failures: Number(m[1]) };
  m = /^throttled-(\d{1,3})(?:-|$)/.exec(text);
  if (m) return { kind: "throttled", retryAfterSeconds: Number(m[1]) };
  m = /^slow-(\d{1,5})(?:-|$)/.exec(text);
  if (m) return { kind: "slow", delayMs: Number(m[1]) };
  if (/^reject(?:-|$)/.test(text)) return { kind: "reject" };
  return undefined;
}

/** An answer a fault gives instead of the route's own. */
export interface FaultAnswer {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/**
 * What the `hit`-th request (1-based) for one order meets: an answer to send instead, a delay before the route's
 * own answer, or nothing.
 */
export function faultOutcome(
  fault: Fault,
  hit: number,
  orderId: string,
): { answer: FaultAnswer } | { delayMs: number } | undefined {
  switch (fault.kind) {
    case "flaky":
      if (hit > fault.failures) return undefined;
      return {
        answer: {
          status: 503,
          headers: {},
          body: { error: "unavailable", message: `injected transient failure ${hit} of ${fault.failures}` },
        },
      };
    case "throttled":
      if (hit > 1) return undefined;
      return {
        answer: {
          status: 429,
          headers: { "retry-after": String(fault.retryAfterSeconds) },
          body: { error: "throttled", message: `retry after ${fault.retryAfterSeconds} s (injected)` },
        },
      };
    case "slow":
      return { delayMs: fault.delayMs };
    case "reject":
      // RFC 9457 problem details: what a real API's permanent business rejection tends to look like.
      return {
        answer: {
          status: 422,
          headers: { "content-type": "application/problem+json; charset=utf-8" },
          body: {
            type: "about:blank",
            title: "Unprocessable order",
            status: 422,
            detail: `order ${orderId} cannot be processed (injected rejection)`,
          },
        },
      };
  }
}

/**
 * A brownout: every `every`-th request to an order route, counted across all orders, fails — alternately 503 and
 * 429 with Retry-After: 1 — while it is on. What a dependency under load looks like to a fleet of workers.
 */
export interface Brownout {
  readonly every: number;
}

/** What the `n`-th request (1-based) meets during a brownout: an answer instead of the route's own, or nothing. */
export function brownoutAnswer(brownout: Brownout, n: number): FaultAnswer | undefined {
  if (n % brownout.every !== 0) return undefined;
  return (n / brownout.every) % 2 === 1
    ? { status: 503, headers: {}, body: { error: "unavailable", message: "brownout (injected)" } }
    : {
        status: 429,
        headers: { "retry-after": "1" },
        body: { error: "throttled", message: "brownout: retry after 1 s (injected)" },
      };
}
