import { Writable } from "node:stream";

import { formatTable, wrap } from "../operator/report.ts";
import type { WorkerHandle } from "../worker/index.ts";
import type { PreflightRow } from "../worker/index.ts";

const useColour = process.stdout.isTTY && process.env.NO_COLOR === undefined;
const paint = (code: number) => (text: string) => (useColour ? `\u001b[${code}m${text}\u001b[0m` : text);
export const green = paint(32);
export const red = paint(31);
export const yellow = paint(33);
export const dim = paint(2);
export const bold = paint(1);
/** Long descriptions are wrapped to the terminal, indented under their line. */
const width = Math.max(40, (process.stdout.columns ?? 110) - 6);

interface LogLine {
  msg?: string;
  level?: string;
  err?: string;
  preflight?: PreflightRow[];
}

/**
 * The worker's JSON log in `keyless dev`: only the preflight and errors reach the screen (the rest is said by
 * watchWorker from the worker's events; set LOG_LEVEL=debug and use `keyless run` for raw logs).
 */
export function devLogView(write: (line: string) => void): Writable {
  let buffered = "";
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      buffered += chunk.toString("utf8");
      let newline = buffered.indexOf("\n");
      while (newline >= 0) {
        const raw = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf("\n");
        let line: LogLine;
        try {
          line = JSON.parse(raw) as LogLine;
        } catch {
          continue;
        }
        const text = render(line);
        if (text) write(text);
      }
      callback();
    },
  });
}

/** Only what the worker's events do not say: the preflight table and errors. */
function render(line: LogLine): string | undefined {
  if (line.msg?.startsWith("preflight"))
    return line.preflight ? `${line.msg}\n${preflightTable(line.preflight)}` : line.msg;
  if (line.level === "error" || line.level === "fatal") return red(`${line.msg ?? ""} ${line.err ?? ""}`);
  return undefined;
}

/**
 * The lines people watch in `keyless dev`, from the worker's typed events: state changes, retries and outcomes,
 * as they happen.
 */
export function watchWorker(
  worker: Pick<WorkerHandle, "on">,
  write: (line: string) => void,
  labelOf: (messageId: string | undefined) => string,
): void {
  const who = (e: { messageId: string; subject: string | undefined }) =>
    `${labelOf(e.messageId)} ${dim(e.subject ?? "")}`;
  worker.on("state", (e) => write(dim(`worker ${e.state}`)));
  worker.on("delivery.retried", (e) =>
    write(
      `  ${yellow("↻ retry")}      ${who(e)} ${dim(`attempt ${e.attempt} failed, next in ${e.delayMs} ms: ${e.reason}`)}`,
    ),
  );
  worker.on("delivery.settled", (e) => {
    const o = e.outcome;
    if (o.kind === "complete") write(`  ${green("✔ completed")}  ${who(e)}`);
    else if (o.kind === "abandon") write(`  ${yellow("↩ abandoned")}  ${who(e)} ${dim(o.why)}`);
    else if (o.kind === "lockLost") write(`  ${yellow("↩ lock lost")}  ${who(e)} ${dim(o.why)}`);
    else {
      const description = wrap(o.description, width)
        .map((text) => `      ${dim(text)}`)
        .join("\n");
      write(`  ${red("✖ dead-letter")} ${who(e)} ${bold(o.reason)}\n${description}`);
    }
  });
}

/** The worker's preflight rows as the table people read: handler, API, roles needed and granted, status. */
export function preflightTable(rows: readonly PreflightRow[]): string {
  return formatTable(
    ["handler", "api", "needs", "has", "status"],
    rows.map((r) => [
      r.handler,
      r.api,
      r.needs.join(", ") || "-",
      r.has === undefined ? "?" : r.has.join(", ") || "(none)",
      r.error ? `no token: ${r.error}` : r.missing.length > 0 ? `MISSING ${r.missing.join(", ")}` : "ok",
    ]),
    60,
  );
}
