/**
 * An AbortController that any of `signals` aborts (with that signal's reason), or a timer after `timeout.ms` (with a
 * DOMException TimeoutError, as AbortSignal.timeout would). Unlike AbortSignal.any and AbortSignal.timeout, nothing of
 * it outlives `dispose()`: the listeners come off the long-lived signals and the timer is cleared, so a settled
 * message leaves no timer in the timer list and no signal in Node's set of dependent signals.
 */
export interface LinkedAbort {
  readonly signal: AbortSignal;
  dispose(): void;
}

export function linkedAbort(
  signals: readonly AbortSignal[],
  timeout?: { readonly ms: number; readonly what: string },
): LinkedAbort {
  const controller = new AbortController();
  const already = signals.find((s) => s.aborted);
  if (already) {
    controller.abort(already.reason);
    return { signal: controller.signal, dispose: () => undefined };
  }
  const listeners = signals.map((s) => {
    const onAbort = () => {
      dispose();
      controller.abort(s.reason);
    };
    s.addEventListener("abort", onAbort, { once: true });
    return { s, onAbort };
  });
  const timer =
    timeout &&
    setTimeout(() => {
      dispose();
      controller.abort(
        new DOMException(`${timeout.what}: no answer within ${timeout.ms} ms`, "TimeoutError"),
      );
    }, timeout.ms);
  function dispose() {
    clearTimeout(timer);
    for (const { s, onAbort } of listeners) s.removeEventListener("abort", onAbort);
  }
  return { signal: controller.signal, dispose };
}
