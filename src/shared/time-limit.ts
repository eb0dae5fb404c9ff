/** Time limits for calls that may never answer (a hanging endpoint, a disposition nobody will confirm). */

/** The call named `what` did not answer within its time limit. */
export class TimeLimitError extends Error {
  override name = "TimeLimitError";
}

/**
 * Resolves or rejects as `promise` does, or rejects with a TimeLimitError naming `what` after `ms`. The timer is
 * cleared either way, so it never holds the process open; the call itself goes on, and a late failure of it is
 * swallowed rather than left unhandled.
 */
export function withinTime<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  // Not Promise.race in an async function: this runs for every settlement, and that costs three promises more.
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new TimeLimitError(`${what}: no answer within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error as Error);
      },
    );
  });
}

/** True when `promise` settles (either way) within `ms`. */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return withinTime(
    promise.then(
      () => true,
      () => true,
    ),
    ms,
    "",
  ).catch(() => false);
}
