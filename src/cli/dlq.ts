import { createInterface } from "node:readline/promises";
import { stderr, stdin, stdout } from "node:process";

import { formatAge, listDeadLetters, purgeDeadLetters, resubmitDeadLetters } from "../operator/dlq.ts";
import { EXIT, formatTable, reportErrors, wrap } from "../operator/report.ts";
import { connectServiceBus, serviceBusErrorOf } from "../operator/service-bus.ts";
import { parseCommandArgs, UsageError } from "./args.ts";

const HELP = `usage: keyless dlq list|resubmit|purge ENTITY [options]

Works on ENTITY's dead-letter queue (ENTITY/$DeadLetterQueue). ENTITY is a queue or topic/subscriptions/name
(resubmit: queues only).

  list      show dead-lettered messages: sequence number, message id, subject, reason, deliveries (1 = it was
            delivered once) and age, with the whole description beneath. Peeks: nothing is locked or taken.
  resubmit  send each one back to ENTITY (same body, subject, content type, correlation id, session and
            properties; the worker's keyless-* and DeadLetter* properties dropped; keyless-resubmitted-at,
            keyless-resubmit-count, keyless-original-message-id and keyless-resubmitted-from added), then
            remove it from the dead-letter queue, only after the send succeeded.
            The message id is KEPT: the worker uses it as the API's Idempotency-Key, so a message that was
            applied before it was dead-lettered cannot be applied twice. On an entity with duplicate detection
            that drops a resubmission inside the detection window; --new-message-id then gives a fresh id (and
            gives up that protection).
  purge     delete them for good. Asks on a terminal; elsewhere --yes is required.

options:
  --reason R          only messages dead-lettered with this reason (e.g. MissingAppRole, InvalidBody)
  --max N             at most N messages (list: default 100; resubmit/purge: all)
  --dry-run           resubmit/purge: list what would be done, do nothing
  --new-message-id    resubmit: give each message a new id (see above)
  --yes               purge without asking
  --client-id ID      act as this user-assigned identity; default KEYLESS_ADMIN_CLIENT_ID, then AZURE_CLIENT_ID
                      ("system" = system-assigned). It needs Azure Service Bus Data Receiver and, for
                      resubmit, Data Sender on ENTITY (Data Owner covers both)
  --json              JSON on stdout

Uses SERVICEBUS_FULLY_QUALIFIED_NAMESPACE with the managed identity, else SERVICEBUS_CONNECTION_STRING (emulators).

examples:
  keyless dlq list orders
  keyless dlq list orders --reason MissingAppRole --json
  keyless dlq resubmit orders --reason MissingAppRole --dry-run
  keyless dlq resubmit orders --reason MissingAppRole
  keyless dlq purge orders --reason InvalidBody --yes
`;

const DESCRIPTION_INDENT = "    ";

export async function run(argv: string[]): Promise<number> {
  const json = argv.includes("--json");
  return reportErrors(json, async () => {
    const { values, positionals } = parseCommandArgs("dlq", argv, {
      help: { type: "boolean", short: "h" },
      reason: { type: "string" },
      max: { type: "string" },
      "dry-run": { type: "boolean" },
      "new-message-id": { type: "boolean" },
      yes: { type: "boolean", short: "y" },
      "client-id": { type: "string" },
      json: { type: "boolean" },
    });
    if (values.help) {
      stdout.write(HELP);
      return EXIT.ok;
    }
    const [action, entity, ...extra] = positionals;
    if (!action || !["list", "resubmit", "purge"].includes(action) || !entity || extra.length > 0) {
      throw new UsageError(
        "keyless dlq: expected list|resubmit|purge and one ENTITY. See 'keyless dlq --help'.",
      );
    }
    const max = values.max === undefined ? undefined : Number(values.max);
    if (max !== undefined && (!Number.isInteger(max) || max < 1)) {
      throw new UsageError(`keyless dlq: --max expects a whole number >= 1, got "${values.max}"`);
    }
    const filter = { ...(values.reason ? { reason: values.reason } : {}), ...(max ? { max } : {}) };
    const clientId = values["client-id"] ?? (process.env.KEYLESS_ADMIN_CLIENT_ID?.trim() || undefined);
    const connection = connectServiceBus(process.env, {
      ...(clientId ? { clientId } : {}),
      clientOptions: { retryOptions: { maxRetries: 2, retryDelayInMs: 500, timeoutInMs: 30_000 } },
    });
    const say = (text: string) => {
      if (!json) stdout.write(`${text}\n`);
    };
    try {
      if (action === "list" || values["dry-run"]) {
        const rows = await listDeadLetters(connection.client, entity, {
          ...filter,
          max: max ?? (action === "list" ? 100 : 10_000),
        });
        if (json) {
          stdout.write(
            `${JSON.stringify({ ok: true, action, dryRun: action !== "list", entity, count: rows.length, messages: rows })}\n`,
          );
          return EXIT.ok;
        }
        say(`${entity}/$DeadLetterQueue on ${connection.description}`);
        if (rows.length === 0) {
          say("no dead-lettered messages" + (values.reason ? ` with reason ${values.reason}` : ""));
        } else {
          // One table row per message, its whole description wrapped beneath it: the fix is in there.
          const [header, rule, ...lines] = formatTable(
            ["seq", "message id", "subject", "reason", "deliveries", "age"],
            rows.map((r) => [
              r.sequenceNumber,
              r.messageId,
              r.subject ?? "",
              r.reason ?? "",
              String(r.deliveries ?? "?"),
              formatAge(r.ageMs),
            ]),
            60,
          ).split("\n");
          say(`${header}\n${rule}`);
          const width = Math.max(40, (stdout.columns ?? 110) - DESCRIPTION_INDENT.length);
          rows.forEach((r, i) => {
            say(lines[i]!);
            for (const line of wrap(r.description ?? "(no description)", width)) {
              say(`${DESCRIPTION_INDENT}${line}`);
            }
          });
        }
        if (action !== "list") say(`dry run: would ${action} ${rows.length} message(s); nothing changed`);
        return EXIT.ok;
      }
      if (action === "purge" && !values.yes) {
        if (!stdin.isTTY || json) {
          throw new UsageError(`keyless dlq purge: refusing to delete without confirmation; pass --yes`);
        }
        const pending = await listDeadLetters(connection.client, entity, { ...filter, max: max ?? 10_000 });
        const rl = createInterface({ input: stdin, output: stderr });
        const answer = await rl.question(
          `delete ${pending.length} dead-lettered message(s)${values.reason ? ` with reason ${values.reason}` : ""} from ${entity} for good? type yes: `,
        );
        rl.close();
        if (answer.trim().toLowerCase() !== "yes") {
          say("nothing deleted");
          return EXIT.failed;
        }
      }
      const result =
        action === "resubmit"
          ? await resubmitDeadLetters(connection.client, entity, {
              ...filter,
              newMessageId: values["new-message-id"] ?? false,
            })
          : await purgeDeadLetters(connection.client, entity, filter);
      if (json) stdout.write(`${JSON.stringify({ ok: true, action, entity, ...result })}\n`);
      else
        say(
          `${action === "resubmit" ? "resubmitted" : "purged"} ${result.done} message(s) ${action === "resubmit" ? "to" : "from"} ${entity}`,
        );
      return EXIT.ok;
    } catch (error) {
      const { code, message } = serviceBusErrorOf(error);
      if (code === "UnauthorizedAccess") {
        throw new Error(
          `${message}\nThe identity needs Azure Service Bus Data Receiver${action === "resubmit" ? " and Data Sender" : ""} on ${entity}; pass --client-id or set KEYLESS_ADMIN_CLIENT_ID to one that has them.`,
          { cause: error },
        );
      }
      if (code === "MessagingEntityNotFound")
        throw new Error(`no entity ${entity}: ${message}`, { cause: error });
      throw error;
    } finally {
      await connection.client.close().catch(() => undefined);
    }
  });
}
