import { stdout } from "node:process";

import { listAppRoles, resolveApi, resolveIdentity } from "../operator/app-role-grants.ts";
import { graphFromEnvironment } from "../operator/graph-client.ts";
import { EXIT, formatTable, reportErrors } from "../operator/report.ts";
import { parseCommandArgs, UsageError } from "./args.ts";

const HELP = `usage: keyless roles --identity REF [--api REF] [--json]

Lists the app roles a managed identity holds, per API, as Microsoft Graph has them now (tokens already issued may
still carry the old set until they expire).

options:
  --identity REF   object id (principalId), client id, ARM resource id or name
  --api REF        only this API: appId, App ID URI or display name
  --json           one JSON object on stdout
  --graph-url URL  Microsoft Graph base URL (default KEYLESS_GRAPH_URL, else https://graph.microsoft.com)

credential: KEYLESS_ADMIN_CLIENT_ID (managed identity) or your Azure CLI login; needs Application.Read.All.

examples:
  keyless roles --identity orders-worker
  keyless roles --identity c1fcf6b2-7fc3-4a43-92cd-5ea3cadbce61 --api "Orders API" --json
`;

export async function run(argv: string[]): Promise<number> {
  const json = argv.includes("--json");
  return reportErrors(json, async () => {
    const { values } = parseCommandArgs("roles", argv, {
      help: { type: "boolean", short: "h" },
      identity: { type: "string" },
      api: { type: "string" },
      json: { type: "boolean" },
      "graph-url": { type: "string" },
    });
    if (values.help) {
      stdout.write(HELP);
      return EXIT.ok;
    }
    if (!values.identity)
      throw new UsageError("keyless roles: --identity is required. See 'keyless roles --help'.");
    const { graph, admin } = graphFromEnvironment(process.env, values["graph-url"]);
    const identity = await resolveIdentity(graph, values.identity);
    const api = values.api ? await resolveApi(graph, values.api) : undefined;
    const byApi = await listAppRoles(graph, identity, api);
    if (json) {
      stdout.write(
        `${JSON.stringify({
          ok: true,
          identity: {
            id: identity.id,
            appId: identity.appId,
            displayName: identity.displayName,
            type: identity.servicePrincipalType,
          },
          apis: byApi,
        })}\n`,
      );
      return EXIT.ok;
    }
    stdout.write(`admin credential: ${admin.description}\n`);
    stdout.write(
      `identity ${identity.displayName}: object id ${identity.id}, client id ${identity.appId}, ${identity.servicePrincipalType ?? "?"}\n\n`,
    );
    if (byApi.length === 0) {
      stdout.write(`no app roles${api ? ` on ${api.displayName}` : ""}\n`);
      return EXIT.ok;
    }
    const rows = byApi.flatMap((g) =>
      g.roles.map((r) => [g.api.displayName, g.api.appId, r.value, r.createdDateTime ?? "", r.assignmentId]),
    );
    stdout.write(`${formatTable(["api", "appId", "role", "granted", "assignment"], rows)}\n`);
    return EXIT.ok;
  });
}
