import { Writable } from "node:stream";

import { formatTable, wrap } from "../operator/report.ts";
import type { PreflightRow } from "../worker/preflight.ts";

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
  messageId?: string;
  subject?: string;
  attempt?: number;
  delayMs?: number;
  reason?: string;
  description?: string;
  why?: string;
  state?: string;
  err?: string;
  preflight?: PreflightRow[];
}

/**
 * Turns the worker's JSON log into the lines people watch in `keyless dev`: state changes, retries and outcomes,
 * as they happen. Everything else stays out of the way (set LOG_LEVEL=debug and use `keyless run` for raw logs).
 */
export function devLogView(
  write: (line: string) => void,
  labelOf: (messageId: string | undefined) => string,
): Writable {
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
        const text = render(line, labelOf);
        if (text) write(text);
      }
      callback();
    },
  });
}

function render(line: LogLine, labelOf: (messageId: string | undefined) => string): string | undefined {
  const who = `${labelOf(line.messageId)} ${dim(line.subject ?? "")}`;
  switch (line.msg) {
    case "transient failure, retrying":
      return `  ${yellow("↻ retry")}      ${who} ${dim(`attempt ${line.attempt} failed, next in ${line.delayMs} ms: ${line.reason ?? ""}`)}`;
    case "message completed":
      return `  ${green("✔ completed")}  ${who}`;
    case "message dead-lettered":
      return `  ${red("✖ dead-letter")} ${who} ${bold(line.reason ?? "")}\n${wrap(
        line.description ?? "",
        width,
      )
        .map((text) => `      ${dim(text)}`)
        .join("\n")}`;
    case "message abandoned for redelivery":
      return `  ${yellow("↩ abandoned")}  ${who} ${dim(line.why ?? "")}`;
    default:
      if (line.msg?.startsWith("worker state:")) return dim(`worker ${line.state}`);
      if (line.msg?.startsWith("preflight"))
        return line.preflight ? `${line.msg}\n${preflightTable(line.preflight)}` : line.msg;
      if (line.level === "error" || line.level === "fatal") return red(`${line.msg ?? ""} ${line.err ?? ""}`);
      return undefined;
  }
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
