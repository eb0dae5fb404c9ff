import type { Bindings, Logger } from "pino";

const LEVELS = new Set(["trace", "debug", "info", "warn", "error", "fatal"]);

/**
 * `parent.child(bindings)`, made only when a line is written at an enabled level. A pino child with redaction costs
 * an allocation and a serialisation of its bindings; most messages write no line (at LOG_LEVEL=warn none at all), so
 * one is made per message only when needed. `child()` of it stays lazy, merging the bindings.
 */
export function lazyChild(parent: Logger, bindings: Bindings | (() => Bindings)): Logger {
  let real: Logger | undefined;
  // Bindings may be a function: what they cost (redacting a message's id and subject) is paid only with a line too.
  const bound = () => (typeof bindings === "function" ? bindings() : bindings);
  const made = () => (real ??= parent.child(bound()));
  return new Proxy(parent, {
    get(_target, prop) {
      if (prop === "child") {
        return (more: Bindings, options?: object) =>
          real || options ? made().child(more, options) : lazyChild(parent, () => ({ ...bound(), ...more }));
      }
      if (typeof prop === "string" && LEVELS.has(prop)) {
        return (...args: unknown[]) => {
          if (!parent.isLevelEnabled(prop)) return;
          (made()[prop as "info"] as (...a: unknown[]) => void)(...args);
        };
      }
      const value = Reflect.get(made(), prop) as unknown;
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(real) : value;
    },
  });
}
