import { stdout } from "node:process";

import { handlers } from "../handlers/index.ts";
import { runDoctor } from "../operator/doctor.ts";
import { EXIT, formatTable, reportErrors, truncate } from "../operator/report.ts";
import { parseCommandArgs, UsageError } from "./args.ts";

const HELP = `usage: keyless doctor [--json] [--timeout-ms N]

Checks what the worker needs, from the same environment the worker reads, and prints a pass/fail table with the fix
for each failure. Exit code 0 when everything passes, 1 otherwise. Takes no messages: entities are checked by
peeking, which needs Listen but locks nothing.

checks:
  configuration        the worker's variables (see 'keyless run --help')
  credential           which credential the worker will use (source and identity)
  Service Bus token    a token for https://servicebus.azure.net from that credential
  roles for <subject>  a token for each configured API carries the app roles each handler needs
  receive from <e>     every entity in SERVICEBUS_ENTITIES can be received from (Azure Service Bus Data Receiver)

options:
  --json          {"ok", "checks": [{check, status, detail, fix}]} on stdout
  --timeout-ms N  time limit per token and per entity (default 10000)

examples:
  keyless doctor
  node --env-file=.env.local src/cli/main.ts doctor --json
  docker exec keyless-worker keyless doctor
`;

export async function run(argv: string[]): Promise<number> {
  const json = argv.includes("--json");
  return reportErrors(json, async () => {
    const { values } = parseCommandArgs("doctor", argv, {
      help: { type: "boolean", short: "h" },
      json: { type: "boolean" },
      "timeout-ms": { type: "string" },
    });
    if (values.help) {
      stdout.write(HELP);
      return EXIT.ok;
    }
    const timeoutMs = values["timeout-ms"] === undefined ? 10_000 : Number(values["timeout-ms"]);
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
      throw new UsageError(
        `keyless doctor: --timeout-ms expects a whole number of milliseconds, got "${values["timeout-ms"]}"`,
      );
    }
    const report = await runDoctor(process.env, { handlers, timeoutMs });
    if (json) {
      stdout.write(`${JSON.stringify(report)}\n`);
    } else {
      const mark = { pass: "ok", fail: "FAIL", skip: "skip" } as const;
      stdout.write(
        `${formatTable(
          ["check", "status", "detail", "fix"],
          report.checks.map((c) => [c.check, mark[c.status], truncate(c.detail, 70), c.fix ?? ""]),
          70,
        )}\n\n${report.ok ? "all checks passed" : `${report.checks.filter((c) => c.status === "fail").length} check(s) failed`}\n`,
      );
    }
    return report.ok ? EXIT.ok : EXIT.failed;
  });
}
