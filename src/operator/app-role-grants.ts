import { DEFAULT_GRAPH_URL, type GraphClient, GraphError, odataString } from "./graph-client.ts";

/** The parts of Graph's servicePrincipal we use. */
export interface ServicePrincipal {
  readonly id: string;
  readonly appId: string;
  readonly displayName: string;
  readonly servicePrincipalType?: string;
  readonly alternativeNames?: readonly string[];
  readonly servicePrincipalNames?: readonly string[];
  readonly appRoles?: readonly GraphAppRole[];
}

export interface GraphAppRole {
  readonly id: string;
  readonly value: string | null;
  readonly displayName?: string;
  readonly isEnabled: boolean;
  readonly allowedMemberTypes: readonly string[];
}

export interface AppRoleAssignment {
  readonly id: string;
  readonly appRoleId: string;
  readonly principalId: string;
  readonly resourceId: string;
  readonly principalDisplayName?: string | null;
  readonly resourceDisplayName?: string | null;
  readonly createdDateTime?: string;
}

/** A name or id that matched nothing, or more than one thing; `candidates` lists what there was to choose from. */
export class ResolutionError extends Error {
  override name = "ResolutionError";
  readonly candidates: readonly string[];
  constructor(message: string, candidates: readonly string[] = []) {
    super(candidates.length > 0 ? `${message}\n${candidates.map((c) => `  - ${c}`).join("\n")}` : message);
    this.candidates = candidates;
  }
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Graph's "default access" role id: an assignment with no specific role. */
const DEFAULT_ACCESS_ROLE_ID = "00000000-0000-0000-0000-000000000000";

const filter = (graph: GraphClient, expression: string) =>
  graph
    .get<{ value: ServicePrincipal[] }>(`/servicePrincipals?$filter=${encodeURIComponent(expression)}`)
    .then((r) => r.value);

const getOrUndefined = async <T>(promise: Promise<T>): Promise<T | undefined> => {
  try {
    return await promise;
  } catch (error) {
    if (error instanceof GraphError && error.status === 404) return undefined;
    throw error;
  }
};

const armIdOf = (sp: ServicePrincipal) => sp.alternativeNames?.find((n) => n.startsWith("/subscriptions/"));
const describe = (sp: ServicePrincipal) =>
  `${sp.displayName}: object id ${sp.id}, client/app id ${sp.appId}, type ${sp.servicePrincipalType ?? "?"}${
    armIdOf(sp) ? `, ${armIdOf(sp)}` : ""
  }`;

/**
 * The managed identity's service principal, from what people have at hand: its object id (principalId), its client
 * id, its ARM resource id or its name. Names are not unique in a tenant, so a name must match exactly one
 * managed identity; otherwise the candidates are listed and nothing is guessed.
 */
export async function resolveIdentity(graph: GraphClient, ref: string): Promise<ServicePrincipal> {
  const wanted = ref.trim();
  if (GUID.test(wanted)) {
    const byObjectId = await getOrUndefined(
      graph.get<ServicePrincipal>(`/servicePrincipals/${encodeURIComponent(wanted)}`),
    );
    if (byObjectId) return byObjectId;
    const [byClientId] = await filter(graph, `appId eq ${odataString(wanted)}`);
    if (byClientId) return byClientId;
    throw new ResolutionError(
      `no service principal has object id or client id ${wanted} in this tenant (check the tenant you are signed in to)`,
    );
  }
  if (wanted.toLowerCase().startsWith("/subscriptions/")) {
    // Graph stores ARM ids with lower-case segment names ("resourcegroups"); try as typed, then that form.
    const forms = [...new Set([wanted, wanted.replace(/\/resourceGroups\//i, "/resourcegroups/")])];
    for (const form of forms) {
      const found = await filter(graph, `alternativeNames/any(x:x eq ${odataString(form)})`);
      if (found.length === 1) return found[0]!;
      if (found.length > 1) {
        throw new ResolutionError(
          `more than one service principal has the ARM id ${wanted}:`,
          found.map(describe),
        );
      }
    }
    throw new ResolutionError(`no managed identity with the ARM resource id ${wanted}`);
  }
  const named = await filter(graph, `displayName eq ${odataString(wanted)}`);
  const identities = named.filter((sp) => sp.servicePrincipalType === "ManagedIdentity");
  if (identities.length === 1) return identities[0]!;
  if (identities.length > 1) {
    throw new ResolutionError(
      `"${wanted}" names ${identities.length} managed identities; pass the object id, client id or ARM id of the one you mean:`,
      identities.map(describe),
    );
  }
  throw new ResolutionError(
    named.length > 0
      ? `"${wanted}" is not a managed identity; service principals with that name:`
      : `no managed identity named "${wanted}"; pass its object id (principalId) or client id`,
    named.map(describe),
  );
}

/** The API's service principal: its appId, its App ID URI (or a scope ending in /.default) or its display name. */
export async function resolveApi(graph: GraphClient, ref: string): Promise<ServicePrincipal> {
  const wanted = ref.trim().replace(/\/\.default$/, "");
  if (GUID.test(wanted)) {
    const byAppId = await getOrUndefined(
      graph.get<ServicePrincipal>(`/servicePrincipals(appId=${encodeURIComponent(odataString(wanted))})`),
    );
    if (byAppId) return byAppId;
    const byObjectId = await getOrUndefined(
      graph.get<ServicePrincipal>(`/servicePrincipals/${encodeURIComponent(wanted)}`),
    );
    if (byObjectId) return byObjectId;
    throw new ResolutionError(
      `no API has the appId (or service principal id) ${wanted}; is the app registered and its service principal created in this tenant?`,
    );
  }
  if (wanted.includes("://") || wanted.startsWith("api:")) {
    const forms = [...new Set([wanted, wanted.replace(/\/+$/, "")])];
    for (const form of forms) {
      const found = await filter(graph, `servicePrincipalNames/any(n:n eq ${odataString(form)})`);
      if (found.length === 1) return found[0]!;
      if (found.length > 1) {
        throw new ResolutionError(`more than one service principal claims ${wanted}:`, found.map(describe));
      }
    }
    throw new ResolutionError(`no API has the App ID URI ${wanted}`);
  }
  const named = (await filter(graph, `displayName eq ${odataString(wanted)}`)).filter(
    (sp) => sp.servicePrincipalType !== "ManagedIdentity",
  );
  if (named.length === 1) return named[0]!;
  if (named.length > 1) {
    throw new ResolutionError(
      `"${wanted}" names ${named.length} applications; pass the appId or App ID URI of the one you mean:`,
      named.map(describe),
    );
  }
  throw new ResolutionError(`no API named "${wanted}"; pass its appId or App ID URI (api://…)`);
}

/** The app role to grant: enabled, assignable to applications (managed identities are service principals). */
export function resolveRole(api: ServicePrincipal, value: string): GraphAppRole {
  const roles = api.appRoles ?? [];
  const assignable = roles.filter((r) => r.isEnabled && r.allowedMemberTypes.includes("Application"));
  const listing = assignable.map((r) => `${r.value}${r.displayName ? ` (${r.displayName})` : ""}`);
  const role = roles.find((r) => r.value === value);
  if (!role) {
    const nearly = roles.find((r) => r.value?.toLowerCase() === value.toLowerCase());
    throw new ResolutionError(
      `${api.displayName} has no app role "${value}"${nearly ? ` (role values are case-sensitive: did you mean ${nearly.value}?)` : ""}; roles it offers to applications:`,
      listing.length > 0
        ? listing
        : ["(none: define app roles with allowedMemberTypes Application on the app registration)"],
    );
  }
  if (!role.isEnabled) throw new ResolutionError(`${api.displayName}'s app role "${value}" is disabled`);
  if (!role.allowedMemberTypes.includes("Application")) {
    throw new ResolutionError(
      `${api.displayName}'s app role "${value}" can be assigned to users only (allowedMemberTypes lacks Application); roles for applications:`,
      listing,
    );
  }
  return role;
}

export interface ResolvedGrant {
  readonly identity: ServicePrincipal;
  readonly api: ServicePrincipal;
  readonly role: GraphAppRole;
}

export async function resolveGrant(
  graph: GraphClient,
  refs: { identity: string; api: string; role: string },
): Promise<ResolvedGrant> {
  const [identity, api] = await Promise.all([
    resolveIdentity(graph, refs.identity),
    resolveApi(graph, refs.api),
  ]);
  return { identity, api, role: resolveRole(api, refs.role) };
}

const assignmentsOf = (graph: GraphClient, identityId: string, apiId?: string) =>
  graph
    .get<{ value: AppRoleAssignment[] }>(
      `/servicePrincipals/${encodeURIComponent(identityId)}/appRoleAssignments${
        apiId ? `?$filter=${encodeURIComponent(`resourceId eq ${apiId}`)}` : ""
      }`,
    )
    .then((r) => r.value);

const findAssignment = async (graph: GraphClient, r: ResolvedGrant) =>
  (await assignmentsOf(graph, r.identity.id, r.api.id)).find(
    (a) => a.appRoleId.toLowerCase() === r.role.id.toLowerCase(),
  );

export type GrantStatus = "created" | "exists" | "would-create";
export type RevokeStatus = "deleted" | "absent" | "would-delete";

/**
 * Grants the role, idempotently: an assignment that is already there is success. Lists first (cheap and clear),
 * and also treats Graph's 400 "Permission being assigned already exists" as success, since another grant can
 * land between the list and the POST.
 */
export async function grantAppRole(
  graph: GraphClient,
  resolved: ResolvedGrant,
  options: { dryRun?: boolean } = {},
): Promise<{ status: GrantStatus; assignment?: AppRoleAssignment }> {
  const existing = await findAssignment(graph, resolved);
  if (existing) return { status: "exists", assignment: existing };
  if (options.dryRun) return { status: "would-create" };
  try {
    const assignment = await graph.post<AppRoleAssignment>(
      `/servicePrincipals/${encodeURIComponent(resolved.api.id)}/appRoleAssignedTo`,
      grantBody(resolved),
    );
    return { status: "created", assignment };
  } catch (error) {
    if (error instanceof GraphError && error.status === 400 && /already exists/i.test(error.message)) {
      const assignment = await findAssignment(graph, resolved);
      return { status: "exists", ...(assignment ? { assignment } : {}) };
    }
    throw error;
  }
}

/** Removes the role; an assignment that is not there is success (the goal state holds). */
export async function revokeAppRole(
  graph: GraphClient,
  resolved: ResolvedGrant,
  options: { dryRun?: boolean } = {},
): Promise<{ status: RevokeStatus; assignment?: AppRoleAssignment }> {
  const existing = await findAssignment(graph, resolved);
  if (!existing) return { status: "absent" };
  if (options.dryRun) return { status: "would-delete", assignment: existing };
  try {
    await graph.delete(
      `/servicePrincipals/${encodeURIComponent(resolved.api.id)}/appRoleAssignedTo/${encodeURIComponent(existing.id)}`,
    );
  } catch (error) {
    // Someone else removed it between our list and our delete: still the state asked for.
    if (error instanceof GraphError && error.status === 404) return { status: "absent" };
    throw error;
  }
  return { status: "deleted", assignment: existing };
}

export interface RolesByApi {
  readonly api: { id: string; appId: string; displayName: string };
  readonly roles: ReadonlyArray<{
    value: string;
    appRoleId: string;
    assignmentId: string;
    createdDateTime?: string;
  }>;
}

/** Every app role the identity holds, grouped by API, role values looked up on each API. */
export async function listAppRoles(
  graph: GraphClient,
  identity: ServicePrincipal,
  api?: ServicePrincipal,
): Promise<RolesByApi[]> {
  const assignments = await assignmentsOf(graph, identity.id, api?.id);
  const resources = new Map<string, ServicePrincipal | undefined>();
  for (const id of new Set(assignments.map((a) => a.resourceId.toLowerCase()))) {
    resources.set(
      id,
      api?.id.toLowerCase() === id
        ? api
        : await getOrUndefined(graph.get<ServicePrincipal>(`/servicePrincipals/${encodeURIComponent(id)}`)),
    );
  }
  const groups = new Map<string, RolesByApi>();
  for (const a of assignments) {
    const resource = resources.get(a.resourceId.toLowerCase());
    const key = a.resourceId.toLowerCase();
    const group = groups.get(key) ?? {
      api: {
        id: a.resourceId,
        appId: resource?.appId ?? "?",
        displayName: resource?.displayName ?? a.resourceDisplayName ?? a.resourceId,
      },
      roles: [],
    };
    const value =
      a.appRoleId === DEFAULT_ACCESS_ROLE_ID
        ? "(default access)"
        : (resource?.appRoles?.find((r) => r.id.toLowerCase() === a.appRoleId.toLowerCase())?.value ??
          `(unknown role ${a.appRoleId})`);
    groups.set(key, {
      ...group,
      roles: [
        ...group.roles,
        {
          value,
          appRoleId: a.appRoleId,
          assignmentId: a.id,
          ...(a.createdDateTime ? { createdDateTime: a.createdDateTime } : {}),
        },
      ],
    });
  }
  return [...groups.values()].sort((x, y) => x.api.displayName.localeCompare(y.api.displayName));
}

const grantBody = (r: ResolvedGrant) => ({
  principalId: r.identity.id,
  resourceId: r.api.id,
  appRoleId: r.role.id,
});

/**
 * The same change as an `az rest` call, for people who must run it elsewhere (a pipeline, another tenant's shell).
 * Always against the real Graph, whatever --graph-url this run used.
 */
export function azRestGrant(r: ResolvedGrant): string {
  return [
    `az rest -m POST -u "${DEFAULT_GRAPH_URL}/v1.0/servicePrincipals/${r.api.id}/appRoleAssignedTo" \\`,
    `  --headers Content-Type=application/json \\`,
    `  -b '${JSON.stringify(grantBody(r))}'`,
  ].join("\n");
}

export function azRestRevoke(r: ResolvedGrant, assignmentId: string | undefined): string {
  if (assignmentId) {
    return `az rest -m DELETE -u "${DEFAULT_GRAPH_URL}/v1.0/servicePrincipals/${r.api.id}/appRoleAssignedTo/${assignmentId}"`;
  }
  // No assignment id to delete here; show how to find one there.
  return `az rest -m GET -u "${DEFAULT_GRAPH_URL}/v1.0/servicePrincipals/${r.identity.id}/appRoleAssignments?\\$filter=resourceId eq ${r.api.id}"`;
}

/** Why a grant does not show up at once; printed after every change. */
export const TOKEN_DELAY_WARNING =
  "Tokens already issued keep their old roles until they expire: Azure caches managed-identity tokens for up to " +
  "about 24 h per resource, and a running worker reuses its token until shortly before expiry. Plan for the delay; " +
  "then resubmit dead-lettered messages with 'keyless dlq resubmit'.";
