/**
 * An AbortController that any of `signals` aborts (with that signal's reason), or a timer after `timeout.ms` (with a
 * DOMException TimeoutError, as AbortSignal.timeout would). Unlike AbortSignal.any and AbortSignal.timeout, nothing of
 * it outlives `dispose()`: the listeners come off the long-lived signals and the timer is cleared, so a settled
 * message leaves no timer in the timer list and no signal in Node's set of dependent signals.
 */
export interface LinkedAbort {
  readonly signal: AbortSignal;
  /**
   * Stops waiting for `promise` when this aborts, rejecting with the reason; the promise goes on by itself (as
   * abortable() does, without a listener on `signal`: this runs for every attempt at every message). One promise
   * per LinkedAbort.
   */
  race<T>(promise: Promise<T>): Promise<T>;
  dispose(): void;
}

export function linkedAbort(
  signals: readonly AbortSignal[],
  timeout?: { readonly ms: number; readonly what: string },
): LinkedAbort {
  const controller = new AbortController();
  const { signal } = controller;
  let stopWaiting: ((reason: unknown) => void) | undefined;
  const abort = (reason: unknown) => {
    dispose();
    controller.abort(reason);
    stopWaiting?.(reason);
  };
  // One listener for all the signals: an EventTarget calls it with the signal as `this`.
  function onAbort(this: AbortSignal) {
    abort(this.reason);
  }
  const already = signals.find((s) => s.aborted);
  if (already) controller.abort(already.reason);
  else for (const s of signals) s.addEventListener("abort", onAbort, { once: true });
  const timer =
    timeout &&
    !already &&
    setTimeout(
      () => abort(new DOMException(`${timeout.what}: no answer within ${timeout.ms} ms`, "TimeoutError")),
      timeout.ms,
    );
  function dispose() {
    if (timer) clearTimeout(timer);
    if (!already) for (const s of signals) s.removeEventListener("abort", onAbort);
  }
  function race<T>(promise: Promise<T>): Promise<T> {
    if (signal.aborted) {
      promise.catch(() => undefined); // nobody waits for it any more: its own failure must not go unhandled
      return Promise.reject(signal.reason as Error);
    }
    return new Promise<T>((resolve, reject) => {
      stopWaiting = reject;
      promise.then(resolve, reject);
    });
  }
  return { signal, race, dispose };
}
