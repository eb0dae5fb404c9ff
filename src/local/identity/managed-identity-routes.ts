import { randomUUID, timingSafeEqual } from "node:crypto";

import type { FastifyInstance, FastifyReply } from "fastify";

import type { ManagedIdentity, Tenant } from "../tenant/index.ts";
import { UnknownResourceError, type TokenIssuer } from "./token-issuer.ts";

/** What a test can make the endpoint do instead of answering normally. */
export type IdentityEndpointFault =
  { kind: "none" } | { kind: "hang" } | { kind: "status"; status: number; count?: number };

export interface ManagedIdentityRoutesOptions {
  tenant: Tenant;
  issuer: TokenIssuer;
  identityHeader: string;
  /** Called for every token request that reaches the endpoint (for tests counting requests). */
  onTokenRequest: () => void;
  fault: () => IdentityEndpointFault;
}

type Query = Record<string, string | undefined>;

/**
 * The App Service / Container Apps managed-identity protocol (api-version 2019-08-01, `X-IDENTITY-HEADER`), which
 * `ManagedIdentityCredential` picks when IDENTITY_ENDPOINT and IDENTITY_HEADER are set, plus the IMDS shape for
 * AZURE_POD_IDENTITY_AUTHORITY_HOST users. Errors go in the body: MSAL decides on the body, not the status.
 */
export function managedIdentityRoutes(app: FastifyInstance, options: ManagedIdentityRoutesOptions): void {
  const { tenant, issuer } = options;

  const fail = (reply: FastifyReply, statusCode: number, error: string, description: string) =>
    reply.code(statusCode).send({
      error,
      error_description: description,
      statusCode,
      message: description,
      correlationId: randomUUID(),
    });

  const pickIdentity = (query: Query, userAssignedKeys: readonly string[]) => {
    const given = userAssignedKeys.filter((k) => query[k] !== undefined && query[k] !== "");
    if (given.length > 1) {
      return {
        problem: `Only one of ${userAssignedKeys.join(", ")} may be given; got ${given.join(" and ")}.`,
      };
    }
    const key = given[0];
    if (key === undefined) {
      const identity = tenant.systemAssignedIdentity();
      return identity
        ? { identity }
        : {
            problem: "No system-assigned identity is enabled; name a user-assigned identity with client_id.",
          };
    }
    const value = query[key] ?? "";
    const identity = tenant.identities.find((i: ManagedIdentity) =>
      key === "client_id"
        ? i.clientId.toLowerCase() === value.toLowerCase()
        : key === "mi_res_id" || key === "msi_res_id"
          ? i.resourceId?.toLowerCase() === value.toLowerCase()
          : i.objectId.toLowerCase() === value.toLowerCase(),
    );
    return identity
      ? { identity }
      : { problem: `No managed identity with ${key} '${value}' is assigned to this resource.` };
  };

  const answer = async (
    reply: FastifyReply,
    query: Query,
    userAssignedKeys: readonly string[],
    shape: "appService" | "imds",
  ) => {
    options.onTokenRequest();
    const fault = options.fault();
    if (fault.kind === "hang") return new Promise<never>(() => {});
    if (fault.kind === "status") {
      return fail(reply, fault.status, "temporarily_unavailable", `Injected fault: HTTP ${fault.status}.`);
    }
    const resource = query.resource;
    if (!resource)
      return fail(reply, 400, "invalid_request", "Required query parameter 'resource' is missing.");
    const picked = pickIdentity(query, userAssignedKeys);
    if (!picked.identity) return fail(reply, 400, "invalid_request", picked.problem ?? "");
    try {
      const token = await issuer.issueFor(picked.identity, resource);
      const expiresOn = String(token.expiresOn); // epoch seconds as a string: the only shape every client parses
      const common = {
        access_token: token.accessToken,
        expires_on: expiresOn,
        resource,
        token_type: "Bearer",
      };
      return reply.send(
        shape === "appService"
          ? { ...common, client_id: picked.identity.clientId }
          : {
              ...common,
              refresh_token: "",
              expires_in: String(token.expiresOn - Math.floor(Date.now() / 1000)),
              // When the token became valid (its issue time), as IMDS documents it; not its expiry.
              not_before: String(token.expiresOn - tenant.tokenLifetimeSeconds),
              client_id: picked.identity.clientId,
            },
      );
    } catch (error) {
      if (error instanceof UnknownResourceError) return fail(reply, 400, "invalid_resource", error.message);
      throw error;
    }
  };

  const headerMatches = (given: unknown) => {
    if (typeof given !== "string") return false;
    const a = Buffer.from(given);
    const b = Buffer.from(options.identityHeader);
    return a.length === b.length && timingSafeEqual(a, b);
  };

  app.get("/msi/token", async (request, reply) => {
    const query = request.query as Query;
    if (!headerMatches(request.headers["x-identity-header"])) {
      return fail(
        reply,
        401,
        "invalid_request",
        "The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER.",
      );
    }
    if (query["api-version"] !== "2019-08-01") {
      return fail(
        reply,
        400,
        "invalid_request",
        `Unsupported api-version '${query["api-version"] ?? ""}'; use 2019-08-01.`,
      );
    }
    return answer(reply, query, ["client_id", "object_id", "principal_id", "mi_res_id"], "appService");
  });

  // IMDS adds a trailing slash when AZURE_POD_IDENTITY_AUTHORITY_HOST is set; serve both spellings.
  for (const path of ["/metadata/identity/oauth2/token", "/metadata/identity/oauth2/token/"]) {
    app.get(path, async (request, reply) => {
      const query = request.query as Query;
      if (request.headers.metadata !== "true") {
        return fail(reply, 400, "invalid_request", "Required metadata header not specified");
      }
      return answer(reply, query, ["client_id", "object_id", "msi_res_id"], "imds");
    });
  }
}
