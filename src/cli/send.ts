import { readFile } from "node:fs/promises";
import { stderr, stdout } from "node:process";

import { NoopSpanProcessor } from "@opentelemetry/sdk-trace";

import { otelConfigProblems } from "../telemetry/exporters.ts";
import { createLogger } from "../telemetry/logger.ts";
import { startTelemetry } from "../telemetry/start.ts";
import { EXIT, reportErrors } from "../operator/report.ts";
import { parseCommandArgs, UsageError } from "./args.ts";

const HELP = `usage: keyless send --entity NAME (--body JSON | --file PATH) [options]

Enqueues messages with the worker's credential rules: SERVICEBUS_FULLY_QUALIFIED_NAMESPACE and the managed identity
(AZURE_CLIENT_ID, or --client-id), else SERVICEBUS_CONNECTION_STRING (emulators). The identity needs Azure Service
Bus Data Sender on the entity. Every message carries the producer's trace context (traceparent, Diagnostic-Id).

options:
  --entity NAME         queue or topic to send to
  --body JSON           the message body, as JSON
  --file PATH           JSON lines, one message per line ('-' = stdin). A line that is an object with a "body" key and
                        only envelope keys (subject, applicationProperties, sessionId, messageId, correlationId,
                        contentType, scheduledEnqueueTimeUtc) is an envelope; any other JSON value is the body itself
  --subject TEXT        subject (the worker picks the handler by it), unless a line sets one
  --property K=V        application property, string value; repeatable. A line's applicationProperties win
  --session-id ID       session id for every message
  --scheduled-at ISO    enqueue at this time, e.g. 2030-01-01T09:00:00Z
  --count N             send N messages (default: one per line, or 1), cycling through the lines. {n} in any
                        string of a body, subject, property or messageId becomes the 1-based sequence number
  --rate N[/s]          at most N messages a second; stops after --count
  --client-id ID        act as this user-assigned identity instead of AZURE_CLIENT_ID ("system" = system-assigned)
  --json                a JSON summary on stdout (sent, batches, durationMs, traceId, messageIds)
  --no-progress         no progress bar (it is drawn only on a terminal and for 100+ messages anyway)

examples:
  keyless send --entity orders --subject orders.fulfil --body '{"orderId":"A-1"}'
  keyless send --entity orders --subject orders.fulfil --body '{"orderId":"load-{n}"}' --count 5000 --rate 200/s
  keyless send --entity orders --file messages.jsonl --property source=backfill --json
  printf '%s\\n' '{"body":{"orderId":"A-2"},"subject":"orders.fulfil"}' | keyless send --entity orders --file -
`;

export async function run(argv: string[]): Promise<number> {
  const json = argv.includes("--json");
  return reportErrors(json, async () => {
    const { values } = parseCommandArgs("send", argv, {
      help: { type: "boolean", short: "h" },
      entity: { type: "string" },
      body: { type: "string" },
      file: { type: "string" },
      subject: { type: "string" },
      property: { type: "string", multiple: true },
      "session-id": { type: "string" },
      "scheduled-at": { type: "string" },
      count: { type: "string" },
      rate: { type: "string" },
      "client-id": { type: "string" },
      json: { type: "boolean" },
      "no-progress": { type: "boolean" },
    });
    if (values.help) {
      stdout.write(HELP);
      return EXIT.ok;
    }
    const usage = (text: string) => new UsageError(`keyless send: ${text}. See 'keyless send --help'.`);
    if (!values.entity) throw usage("--entity is required");
    if ((values.body === undefined) === (values.file === undefined))
      throw usage("give exactly one of --body or --file");
    const count = values.count === undefined ? undefined : Number(values.count);
    if (count !== undefined && (!Number.isInteger(count) || count < 1)) {
      throw usage(`--count expects a whole number >= 1, got "${values.count}"`);
    }
    const rateMatch = values.rate === undefined ? undefined : /^(\d+(?:\.\d+)?)(?:\/s)?$/.exec(values.rate);
    if (values.rate !== undefined && (!rateMatch || Number(rateMatch[1]) <= 0)) {
      throw usage(`--rate expects messages per second such as 50 or 50/s, got "${values.rate}"`);
    }
    const scheduledAt = values["scheduled-at"] ? new Date(values["scheduled-at"]) : undefined;
    if (scheduledAt && Number.isNaN(scheduledAt.getTime())) {
      throw usage(
        `--scheduled-at expects an ISO date such as 2030-01-01T09:00:00Z, got "${values["scheduled-at"]}"`,
      );
    }
    const properties: Record<string, string> = {};
    for (const p of values.property ?? []) {
      const eq = p.indexOf("=");
      if (eq < 1) throw usage(`--property expects KEY=VALUE, got "${p}"`);
      properties[p.slice(0, eq)] = p.slice(eq + 1);
    }

    const otlp = otelConfigProblems(process.env);
    if (otlp.length > 0) throw usage(otlp.join("; "));

    // Telemetry first, so the producer span is real (and exported when OTEL_* asks) and messages carry its
    // context. The no-op processor keeps spans recording even when nothing is exported.
    // Its problems (a collector that is down) go to stderr: stdout carries the summary, JSON with --json.
    const telemetry = await startTelemetry(process.env, {
      serviceName: "keyless-send",
      spanProcessors: [new NoopSpanProcessor()],
      logger: createLogger({ level: "warn", name: "keyless-send", destination: stderr }),
    });
    const { parseJsonLines, sendRun } = await import("../operator/send.ts");
    const { connectServiceBus, serviceBusErrorOf } = await import("../operator/service-bus.ts");
    const { progressBar } = await import("../operator/progress.ts");

    const templates =
      values.body !== undefined
        ? parseJsonLines(values.body.replace(/\r?\n/g, " "), "--body")
        : parseJsonLines(
            values.file === "-" ? await readStdin() : await readFile(values.file!, "utf8"),
            values.file!,
          );
    const total = count ?? templates.length;
    const connection = connectServiceBus(process.env, {
      ...(values["client-id"] ? { clientId: values["client-id"] } : {}),
      // A few quick retries: a missing Data Sender role should be reported in seconds, not after ~90 s.
      clientOptions: { retryOptions: { maxRetries: 2, retryDelayInMs: 500, timeoutInMs: 30_000 } },
    });
    if (!json) stderr.write(`sending ${total} message(s) to ${values.entity} on ${connection.description}\n`);
    const abort = new AbortController();
    const onSignal = () => abort.abort();
    process.once("SIGINT", onSignal);
    try {
      const summary = await sendRun(connection.client, {
        entity: values.entity,
        templates,
        count: total,
        ...(rateMatch ? { ratePerSecond: Number(rateMatch[1]) } : {}),
        defaults: {
          ...(values.subject ? { subject: values.subject } : {}),
          applicationProperties: properties,
          ...(values["session-id"] ? { sessionId: values["session-id"] } : {}),
          ...(scheduledAt ? { scheduledAt } : {}),
        },
        progress: progressBar(stderr, total, {
          enabled: !values["no-progress"] && stderr.isTTY && total >= 100,
        }),
        signal: abort.signal,
      });
      if (json) stdout.write(`${JSON.stringify({ ok: true, ...summary })}\n`);
      else {
        stdout.write(
          `sent ${summary.sent}/${total} to ${summary.entity} in ${summary.batches} batch(es), ${summary.durationMs} ms` +
            `${summary.traceId ? `; trace ${summary.traceId}` : ""}${summary.interrupted ? " (interrupted)" : ""}\n`,
        );
        if (summary.messageIds.length <= 10) stdout.write(`message ids: ${summary.messageIds.join(", ")}\n`);
      }
      return summary.interrupted ? EXIT.failed : EXIT.ok;
    } catch (error) {
      const { code, message } = serviceBusErrorOf(error);
      if (code === "UnauthorizedAccess") {
        throw new Error(
          `${message}\nThe identity lacks Azure Service Bus Data Sender on ${values.entity} (or use --client-id for one that has it).`,
          { cause: error },
        );
      }
      if (code === "MessagingEntityNotFound")
        throw new Error(`no entity ${values.entity}: ${message}`, { cause: error });
      throw error;
    } finally {
      process.off("SIGINT", onSignal);
      await connection.client.close().catch(() => undefined);
      await telemetry.shutdown().catch(() => undefined);
    }
  });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
