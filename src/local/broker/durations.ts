/** ISO-8601 durations as Config.json writes them ("PT30S", "PT1H", "P1DT2H", "PT0.5S"). */
const DURATION =
  /^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/** Milliseconds in an ISO-8601 duration, or undefined when the text is not one (years/months are ambiguous: refused). */
export function parseIsoDurationMs(text: string): number | undefined {
  const m = DURATION.exec(text);
  if (!m || text === "P" || text.endsWith("T")) return undefined;
  const [, d, h, min, s] = m.map((v) => (v === undefined ? 0 : Number(v)));
  return Math.round((((d ?? 0) * 24 + (h ?? 0)) * 60 * 60 + (min ?? 0) * 60 + (s ?? 0)) * 1000);
}
