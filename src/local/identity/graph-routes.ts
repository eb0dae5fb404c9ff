import { randomUUID } from "node:crypto";

import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { createLocalJWKSet, jwtVerify } from "jose";

import type { Application, AppRoleAssignment, ManagedIdentity, Tenant } from "../tenant/index.ts";
import { MICROSOFT_GRAPH } from "../tenant/index.ts";
import type { SigningKeys } from "./signing-keys.ts";
import { issuerUrl } from "./token-issuer.ts";

const READ = "Application.Read.All";
const WRITE = "AppRoleAssignment.ReadWrite.All";

/**
 * The slice of Microsoft Graph v1.0 that app-role assignment needs, at `/graph/v1.0`, with Graph's own shapes and
 * errors (including the 400 "already exists"), guarded like Graph: a bearer token for https://graph.microsoft.com
 * with Application.Read.All to read and AppRoleAssignment.ReadWrite.All to write.
 */
export function graphRoutes(
  app: FastifyInstance,
  tenant: Tenant,
  keys: SigningKeys,
  authorityOf: () => string,
): void {
  const error = (reply: FastifyReply, status: number, code: string, message: string) =>
    reply.code(status).send({
      error: { code, message, innerError: { date: new Date().toISOString(), "request-id": randomUUID() } },
    });

  /** Checks the caller's token; answers the request itself and returns false when it may not proceed. */
  const authorize = async (
    request: FastifyRequest,
    reply: FastifyReply,
    needs: string[],
  ): Promise<boolean> => {
    const header = request.headers.authorization ?? "";
    const token = /^Bearer (.+)$/i.exec(header)?.[1];
    if (!token) {
      await error(reply, 401, "InvalidAuthenticationToken", "Access token is empty.");
      return false;
    }
    try {
      const { payload } = await jwtVerify(token, createLocalJWKSet(keys.jwks()), {
        algorithms: ["RS256"],
        issuer: issuerUrl(authorityOf(), tenant.tenantId, "1.0"),
        audience: ["https://graph.microsoft.com", "https://graph.microsoft.com/", MICROSOFT_GRAPH.appId],
      });
      const roles = Array.isArray(payload.roles) ? (payload.roles as string[]) : [];
      if (!needs.some((n) => roles.includes(n))) {
        await error(
          reply,
          403,
          "Authorization_RequestDenied",
          `Insufficient privileges to complete the operation. The caller needs ${needs.join(" or ")}; its token has ${roles.join(", ") || "no roles"}.`,
        );
        return false;
      }
      return true;
    } catch (e) {
      await error(
        reply,
        401,
        "InvalidAuthenticationToken",
        `Access token validation failure: ${(e as Error).message}`,
      );
      return false;
    }
  };
  const canRead = (q: FastifyRequest, r: FastifyReply) => authorize(q, r, [READ, WRITE]);
  const canWrite = (q: FastifyRequest, r: FastifyReply) => authorize(q, r, [WRITE]);

  type Principal =
    { kind: "identity"; identity: ManagedIdentity } | { kind: "application"; application: Application };
  const principals = (): Principal[] => [
    ...tenant.identities.map((identity) => ({ kind: "identity" as const, identity })),
    ...tenant.applications.map((application) => ({ kind: "application" as const, application })),
  ];
  const idOf = (p: Principal) =>
    p.kind === "identity" ? p.identity.objectId : p.application.servicePrincipalId;
  const nameOf = (p: Principal) => (p.kind === "identity" ? p.identity.name : p.application.displayName);
  const byId = (id: string) => principals().find((p) => idOf(p).toLowerCase() === id.toLowerCase());

  const representation = (p: Principal) =>
    p.kind === "identity"
      ? {
          id: p.identity.objectId,
          appId: p.identity.clientId,
          displayName: p.identity.name,
          servicePrincipalType: "ManagedIdentity",
          alternativeNames: p.identity.resourceId ? ["isExplicit=True", p.identity.resourceId] : [],
          servicePrincipalNames: [
            p.identity.clientId,
            ...(p.identity.resourceId ? [p.identity.resourceId] : []),
          ],
          appRoles: [],
        }
      : {
          id: p.application.servicePrincipalId,
          appId: p.application.appId,
          displayName: p.application.displayName,
          servicePrincipalType: "Application",
          alternativeNames: [],
          servicePrincipalNames: [p.application.appId, ...p.application.identifierUris],
          appRoles: p.application.appRoles.map((r) => ({
            id: r.id,
            value: r.value,
            displayName: r.displayName ?? r.value,
            description: r.description ?? r.displayName ?? r.value,
            allowedMemberTypes: r.allowedMemberTypes,
            isEnabled: r.isEnabled,
            origin: "Application",
          })),
        };

  const assignmentJson = (a: AppRoleAssignment) => {
    const principal = byId(a.principalId);
    const resource = byId(a.resourceId);
    return {
      id: a.id,
      appRoleId: a.appRoleId,
      createdDateTime: a.createdDateTime,
      deletedDateTime: null,
      principalDisplayName: principal ? nameOf(principal) : null,
      principalId: a.principalId,
      principalType: "ServicePrincipal",
      resourceDisplayName: resource ? nameOf(resource) : null,
      resourceId: a.resourceId,
    };
  };

  /** The `$filter` forms Graph documents for finding service principals; anything else is refused, not ignored. */
  const matchFilter = (filter: string): ((p: Principal) => boolean) | undefined => {
    const eq = /^\s*(appId|displayName|id)\s+eq\s+'((?:[^']|'')*)'\s*$/i.exec(filter);
    if (eq) {
      const field = eq[1]!.toLowerCase();
      const value = eq[2]!.replaceAll("''", "'");
      return (p) => {
        const r = representation(p);
        const actual = field === "appid" ? r.appId : field === "id" ? r.id : r.displayName;
        return field === "displayname" ? actual === value : actual.toLowerCase() === value.toLowerCase();
      };
    }
    const any =
      /^\s*(servicePrincipalNames|alternativeNames)\/any\(\s*(\w+)\s*:\s*\2\s+eq\s+'((?:[^']|'')*)'\s*\)\s*$/i.exec(
        filter,
      );
    if (any) {
      const field =
        any[1]!.toLowerCase() === "serviceprincipalnames" ? "servicePrincipalNames" : "alternativeNames";
      const value = any[3]!.replaceAll("''", "'").toLowerCase();
      return (p) => representation(p)[field].some((v) => v.toLowerCase() === value);
    }
    return undefined;
  };

  const collection = (values: unknown[], context: string) => ({
    "@odata.context": `https://graph.microsoft.com/v1.0/$metadata#${context}`,
    value: values,
  });

  app.get<{ Querystring: Record<string, string> }>(
    "/graph/v1.0/servicePrincipals",
    async (request, reply) => {
      if (!(await canRead(request, reply))) return reply;
      const filter = request.query.$filter;
      if (!filter) return collection(principals().map(representation), "servicePrincipals");
      const predicate = matchFilter(filter);
      if (!predicate) {
        return error(
          reply,
          400,
          "Request_UnsupportedQuery",
          `Unsupported or invalid query filter clause: ${filter}`,
        );
      }
      return collection(principals().filter(predicate).map(representation), "servicePrincipals");
    },
  );

  const notFound = (reply: FastifyReply, key: string) =>
    error(
      reply,
      404,
      "Request_ResourceNotFound",
      `Resource '${key}' does not exist or one of its queried reference-property objects are not present.`,
    );

  app.get<{ Params: { id: string } }>("/graph/v1.0/servicePrincipals/:id", async (request, reply) => {
    if (!(await canRead(request, reply))) return reply;
    const found = byId(request.params.id);
    return found ? representation(found) : notFound(reply, request.params.id);
  });

  // The alternate-key form /servicePrincipals(appId='{appId}') is one path segment.
  app.get<{ Params: { segment: string } }>("/graph/v1.0/:segment", async (request, reply) => {
    const appId = /^servicePrincipals\(appId='([^']+)'\)$/i.exec(request.params.segment)?.[1];
    if (!appId)
      return error(
        reply,
        400,
        "BadRequest",
        `Resource not found for the segment '${request.params.segment}'.`,
      );
    if (!(await canRead(request, reply))) return reply;
    const found = principals().find((p) => representation(p).appId.toLowerCase() === appId.toLowerCase());
    return found ? representation(found) : notFound(reply, appId);
  });

  const listAssignments =
    (side: "principalId" | "resourceId") =>
    async (
      request: FastifyRequest<{ Params: { id: string }; Querystring: Record<string, string> }>,
      reply: FastifyReply,
    ) => {
      if (!(await canRead(request, reply))) return reply;
      if (!byId(request.params.id))
        return error(
          reply,
          404,
          "Request_ResourceNotFound",
          `Resource '${request.params.id}' does not exist.`,
        );
      let list = tenant
        .appRoleAssignments()
        .filter((a) => a[side].toLowerCase() === request.params.id.toLowerCase());
      const filter = request.query.$filter;
      if (filter) {
        const m = /^\s*resourceId\s+eq\s+'?([0-9a-f-]{36})'?\s*$/i.exec(filter);
        if (!m)
          return error(
            reply,
            400,
            "Request_UnsupportedQuery",
            `Unsupported or invalid query filter clause: ${filter}`,
          );
        list = list.filter((a) => a.resourceId.toLowerCase() === m[1]!.toLowerCase());
      }
      return collection(list.map(assignmentJson), "appRoleAssignments");
    };
  app.get("/graph/v1.0/servicePrincipals/:id/appRoleAssignments", listAssignments("principalId"));
  app.get("/graph/v1.0/servicePrincipals/:id/appRoleAssignedTo", listAssignments("resourceId"));

  const create = async (
    request: FastifyRequest<{
      Params: { id: string };
      Body: { principalId?: string; resourceId?: string; appRoleId?: string };
    }>,
    reply: FastifyReply,
  ) => {
    if (!(await canWrite(request, reply))) return reply;
    const { principalId, resourceId, appRoleId } = request.body ?? {};
    if (!principalId || !resourceId || !appRoleId) {
      return error(reply, 400, "Request_BadRequest", "principalId, resourceId and appRoleId are required.");
    }
    const resource = byId(resourceId);
    if (!byId(principalId) || !resource) {
      return error(
        reply,
        404,
        "Request_ResourceNotFound",
        `Resource '${byId(principalId) ? resourceId : principalId}' does not exist.`,
      );
    }
    const role =
      resource.kind === "application"
        ? resource.application.appRoles.find((r) => r.id.toLowerCase() === appRoleId.toLowerCase())
        : undefined;
    if (!role)
      return error(
        reply,
        400,
        "Request_BadRequest",
        "Permission being assigned was not found on application.",
      );
    const { assignment, created } = tenant.assignAppRole({
      principalId: idOf(byId(principalId)!),
      resourceId: idOf(resource),
      appRoleId: role.id,
    });
    if (!created)
      return error(
        reply,
        400,
        "Request_BadRequest",
        "Permission being assigned already exists on the object.",
      );
    return reply.code(201).send(assignmentJson(assignment));
  };
  app.post("/graph/v1.0/servicePrincipals/:id/appRoleAssignedTo", create);
  app.post("/graph/v1.0/servicePrincipals/:id/appRoleAssignments", create);

  const remove = async (
    request: FastifyRequest<{ Params: { id: string; assignmentId: string } }>,
    reply: FastifyReply,
  ) => {
    if (!(await canWrite(request, reply))) return reply;
    const assignment = tenant.appRoleAssignments().find((a) => a.id === request.params.assignmentId);
    const belongs =
      assignment &&
      [assignment.principalId, assignment.resourceId].some(
        (id) => id.toLowerCase() === request.params.id.toLowerCase(),
      );
    if (!assignment || !belongs) {
      return error(
        reply,
        404,
        "Request_ResourceNotFound",
        `Resource '${request.params.assignmentId}' does not exist or one of its queried reference-property objects are not present.`,
      );
    }
    tenant.removeAppRoleAssignment(assignment.id);
    return reply.code(204).send();
  };
  app.delete("/graph/v1.0/servicePrincipals/:id/appRoleAssignedTo/:assignmentId", remove);
  app.delete("/graph/v1.0/servicePrincipals/:id/appRoleAssignments/:assignmentId", remove);
}
