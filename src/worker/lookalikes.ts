/**
 * Finds variables that are set under a misspelled name (SERVICEBUS_ENTITES for SERVICEBUS_ENTITIES): a typo in a
 * deployment otherwise reads as "required" or, worse, silently leaves a default in place.
 */

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Set variables, other than `name` itself, that are a typo or two away from it (three for long names), compared
 * without regard to case. `isKnown` excludes variables that mean something of their own.
 */
export function lookalikesOf(name: string, env: Env, isKnown: (variable: string) => boolean): string[] {
  const wanted = name.toUpperCase();
  const within = wanted.length >= 16 ? 3 : 2;
  return Object.keys(env).filter(
    (key) =>
      key !== name &&
      env[key]?.trim() &&
      !isKnown(key) &&
      Math.abs(key.length - wanted.length) <= within &&
      editDistance(key.toUpperCase(), wanted) <= within,
  );
}

/** "did you mean SERVICEBUS_ENTITIES? (SERVICEBUS_ENTITES is set)" */
export function didYouMean(name: string, lookalikes: readonly string[]): string {
  return `did you mean ${name}? (${lookalikes.join(", ")} ${lookalikes.length > 1 ? "are" : "is"} set)`;
}

/** Levenshtein distance: insertions, deletions and substitutions. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}
