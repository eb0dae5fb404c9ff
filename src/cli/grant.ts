import { stderr, stdout } from "node:process";

import {
  azRestGrant,
  azRestRevoke,
  grantAppRole,
  type ResolvedGrant,
  resolveGrant,
  revokeAppRole,
  TOKEN_DELAY_WARNING,
} from "../operator/app-role-grants.ts";
import { graphFromEnvironment } from "../operator/graph-client.ts";
import { EXIT, reportErrors } from "../operator/report.ts";
import { parseCommandArgs, UsageError } from "./args.ts";

const COMMON = `  --identity REF   the managed identity: object id (principalId), client id, ARM resource id or name
  --api REF        the API: appId, App ID URI (api://…; a …/.default scope works too) or display name
  --role VALUE     the app role's value, e.g. Orders.Refund (case-sensitive)
  --dry-run        resolve and show what would change; change nothing
  --json           one JSON object on stdout
  --graph-url URL  Microsoft Graph base URL (default KEYLESS_GRAPH_URL, else https://graph.microsoft.com)

credential: a managed identity when KEYLESS_ADMIN_CLIENT_ID is set, otherwise your Azure CLI login (az login).
It needs Graph application permissions Application.Read.All and AppRoleAssignment.ReadWrite.All (or a directory
role such as Privileged Role Administrator when signed in as a person).`;

const HELP = {
  grant: `usage: keyless grant --identity REF --api REF --role VALUE [--dry-run] [--json]

Assigns an API's app role to a managed identity through Microsoft Graph, so the tokens the identity gets for that
API carry the role. Idempotent: a role already granted is success. Prints what it resolved and the equivalent
'az rest' call.

${COMMON}

examples:
  keyless grant --identity orders-worker --api "Orders API" --role Orders.Refund
  keyless grant --identity c1fcf6b2-7fc3-4a43-92cd-5ea3cadbce61 --api api://568c0ca2-0405-43bd-8d4c-bfdfd3f66f42 --role Orders.Refund --dry-run
  keyless grant --identity eb7db80e-1d4d-44ad-8bd1-b8954bad2e36 --api 568c0ca2-0405-43bd-8d4c-bfdfd3f66f42 --role Orders.Read --json
`,
  revoke: `usage: keyless revoke --identity REF --api REF --role VALUE [--dry-run] [--json]

Removes an app role assignment through Microsoft Graph. Idempotent: a role that is not granted is success.

${COMMON}

examples:
  keyless revoke --identity orders-worker --api "Orders API" --role Orders.Refund
  keyless revoke --identity orders-worker --api api://568c0ca2-0405-43bd-8d4c-bfdfd3f66f42 --role Orders.Refund --dry-run
`,
};

const MESSAGES = {
  created: "granted: created assignment",
  exists: "already granted, nothing to do: assignment",
  "would-create": "dry run: would create the assignment; nothing changed",
  deleted: "revoked: deleted assignment",
  absent: "not granted, nothing to do",
  "would-delete": "dry run: would delete assignment",
} as const;

export function run(argv: string[]): Promise<number> {
  return runGrantOrRevoke("grant", argv);
}

/** `keyless grant` and `keyless revoke`: the same resolution and output, opposite changes. */
export async function runGrantOrRevoke(command: "grant" | "revoke", argv: string[]): Promise<number> {
  const json = argv.includes("--json");
  return reportErrors(json, async () => {
    const { values } = parseCommandArgs(command, argv, {
      help: { type: "boolean", short: "h" },
      identity: { type: "string" },
      api: { type: "string" },
      role: { type: "string" },
      "dry-run": { type: "boolean" },
      json: { type: "boolean" },
      "graph-url": { type: "string" },
    });
    if (values.help) {
      stdout.write(HELP[command]);
      return EXIT.ok;
    }
    const missing = (["identity", "api", "role"] as const).filter((k) => !values[k]);
    if (missing.length > 0) {
      throw new UsageError(
        `keyless ${command}: ${missing.map((m) => `--${m}`).join(", ")} required. See 'keyless ${command} --help'.`,
      );
    }
    const { graph, admin } = graphFromEnvironment(process.env, values["graph-url"]);
    const say = (line: string) => {
      if (!json) stdout.write(`${line}\n`);
    };
    say(`admin credential: ${admin.description}`);
    say(`graph: ${graph.baseUrl}`);
    const resolved = await resolveGrant(graph, {
      identity: values.identity!,
      api: values.api!,
      role: values.role!,
    });
    say(describeResolved(resolved));

    const dryRun = values["dry-run"] ?? false;
    const result =
      command === "grant"
        ? await grantAppRole(graph, resolved, { dryRun })
        : await revokeAppRole(graph, resolved, { dryRun });
    const azRest =
      command === "grant" ? azRestGrant(resolved) : azRestRevoke(resolved, result.assignment?.id);
    const changed = result.status === "created" || result.status === "deleted";
    if (json) {
      stdout.write(
        `${JSON.stringify({
          ok: true,
          command,
          status: result.status,
          changed,
          identity: {
            id: resolved.identity.id,
            appId: resolved.identity.appId,
            displayName: resolved.identity.displayName,
            type: resolved.identity.servicePrincipalType,
          },
          api: { id: resolved.api.id, appId: resolved.api.appId, displayName: resolved.api.displayName },
          role: { id: resolved.role.id, value: resolved.role.value },
          assignmentId: result.assignment?.id ?? null,
          azRest,
        })}\n`,
      );
    } else {
      say(`${MESSAGES[result.status]}${result.assignment ? ` ${result.assignment.id}` : ""}`);
      say(`equivalent az rest call:\n${azRest}`);
    }
    if (changed || result.status.startsWith("would")) stderr.write(`note: ${TOKEN_DELAY_WARNING}\n`);
    return EXIT.ok;
  });
}

function describeResolved(r: ResolvedGrant): string {
  return [
    `identity  ${r.identity.displayName}  object id ${r.identity.id}, client id ${r.identity.appId}, ${r.identity.servicePrincipalType ?? "?"}`,
    `api       ${r.api.displayName}  appId ${r.api.appId}, service principal ${r.api.id}`,
    `role      ${r.role.value}  id ${r.role.id}`,
  ].join("\n");
}
