/**
 * Faults the sample API plays on purpose, chosen by the order id (so a worker that knows nothing about faults meets
 * them) or by an X-Fault header with the same grammar:
 *   flaky-<n>-…      the first n requests for that order answer 503
 *   throttled-<s>-…  the first request answers 429 with Retry-After: <s>
 *   slow-<ms>-…      every request answers after <ms> milliseconds
 *   reject-…         every request answers 422 (a permanent business rejection)
 */
export type Fault =
  | { kind: "flaky"; failures: number }
  | { kind: "throttled"; retryAfterSeconds: number }
  | { kind: "slow"; delayMs: number }
  | { kind: "reject" };

export function parseFault(text: string | undefined): Fault | undefined {
  if (!text) return undefined;
  let m = /^flaky-(\d{1,3})(?:-|$)/.exec(text);
  if (m) return { kind: "flaky", failures: Number(m[1]) };
  m = /^throttled-(\d{1,3})(?:-|$)/.exec(text);
  if (m) return { kind: "throttled", retryAfterSeconds: Number(m[1]) };
  m = /^slow-(\d{1,6})(?:-|$)/.exec(text);
  if (m) return { kind: "slow", delayMs: Number(m[1]) };
  if (/^reject(?:-|$)/.test(text)) return { kind: "reject" };
  return undefined;
}
