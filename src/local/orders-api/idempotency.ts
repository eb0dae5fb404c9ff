import { createHash } from "node:crypto";

/** A route's answer, kept so a replay can return it unchanged. */
export interface StoredAnswer {
  status: number;
  body: unknown;
}

export type IdempotentResult =
  | { kind: "applied"; answer: StoredAnswer }
  | { kind: "replayed"; answer: StoredAnswer }
  | { kind: "mismatch" };

/**
 * Idempotency-Key bookkeeping: the first request with a key in a scope applies its effect and stores the answer; a
 * later one with the same body gets that answer back and applies nothing; one with another body is refused.
 * Effects are synchronous, so no second request can slip in between the lookup and the store.
 */
export function createIdempotencyStore(): {
  run(scope: string, body: unknown, effect: () => StoredAnswer): IdempotentResult;
} {
  const answers = new Map<string, { fingerprint: string; answer: StoredAnswer }>();
  return {
    run(scope, body, effect) {
      const fingerprint = createHash("sha256").update(canonicalJson(body)).digest("hex");
      const previous = answers.get(scope);
      if (previous) {
        return previous.fingerprint === fingerprint
          ? { kind: "replayed", answer: previous.answer }
          : { kind: "mismatch" };
      }
      const answer = effect();
      answers.set(scope, { fingerprint, answer });
      return { kind: "applied", answer };
    },
  };
}

/** JSON with object keys sorted, so `{"a":1,"b":2}` and `{"b":2,"a":1}` are the same body. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}
