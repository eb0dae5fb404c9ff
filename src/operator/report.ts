import { stderr, stdout } from "node:process";

/** Exit codes every operator command uses. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/**
 * Runs a command body and turns what it throws into one clear line and an exit code (2 for a usage mistake, 1 for
 * anything else) instead of a stack trace. With --json the error is a JSON object on stdout, so scripts can parse it.
 */
export async function reportErrors(json: boolean, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (error) {
    const err = error instanceof Error ? error : new Error(String(error));
    const usage = err.name === "UsageError";
    if (json)
      stdout.write(`${JSON.stringify({ ok: false, error: { name: err.name, message: err.message } })}\n`);
    else stderr.write(`${usage ? "" : "error: "}${err.message}\n`);
    return usage ? EXIT.usage : EXIT.failed;
  }
}

/** A plain-text table: columns padded to their widest cell (capped), the last column left free. */
export function formatTable(
  header: readonly string[],
  rows: ReadonlyArray<readonly string[]>,
  maxWidth = 48,
): string {
  const widths = header.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => Math.min(maxWidth, (r[i] ?? "").length))),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** Cuts text to `max` characters on one line. */
export function truncate(text: string, max: number): string {
  const one = text.replace(/\s+/g, " ").trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

/** Breaks text into lines of at most `width` characters at spaces (a longer word keeps its own line). */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  for (const paragraph of text.split("\n")) {
    let line = "";
    for (const word of paragraph.split(/\s+/).filter(Boolean)) {
      if (line && line.length + 1 + word.length > width) {
        lines.push(line);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    if (line) lines.push(line);
  }
  return lines;
}
