/**
 * A stand-in for a protected API the team has not pointed anywhere yet: every application in the tenant file with an
 * `api` name (other than the sample orders API) gets one from `keyless stack`, so a new handler runs locally after one
 * tenant-file entry. It checks what the real API would (a valid Entra token for this API, carrying at least one of
 * the API's app roles), records every call (never the token), and answers 200 with what it saw.
 */
import Fastify, { type FastifyInstance } from "fastify";
import { callerOf, createEntraTokenValidator, entraAuth } from "@keyless/entra-auth";

import { firstHeader } from "../orders-api/orders-api.ts";

/** One call as the stand-in saw it: claims only, never the token. */
export interface StandInCall {
  readonly method: string;
  readonly path: string;
  readonly roles: readonly string[];
  readonly callerObjectId: string | undefined;
  readonly idempotencyKey: string | undefined;
  readonly traceparent: string | undefined;
  readonly body: unknown;
}

export interface StandInApi {
  readonly name: string;
  readonly url: string;
  journal(): readonly StandInCall[];
  close(): Promise<void>;
}

export async function startStandInApi(options: {
  /** The API's name as the worker knows it (API_<NAME>_*). */
  name: string;
  authority: string;
  tenantId: string;
  /** The API's App ID URIs and appId. */
  audiences: readonly string[];
  /** The API's app-role values: a caller needs at least one. */
  roles: readonly string[];
  host?: string;
}): Promise<StandInApi> {
  const app: FastifyInstance = Fastify({ forceCloseConnections: true, logger: false });
  const auth = entraAuth(
    createEntraTokenValidator({
      authority: options.authority,
      tenantId: options.tenantId,
      audiences: options.audiences,
    }),
    { realm: `${options.name}-api` },
  );
  const journal: StandInCall[] = [];
  app.all("/*", { preHandler: [auth.authenticate] }, async (request, reply) => {
    const claims = callerOf(request)?.claims;
    const roles = (claims?.roles as string[] | undefined) ?? [];
    journal.push({
      method: request.method,
      path: request.url.split("?")[0] ?? request.url,
      roles,
      callerObjectId: claims?.oid as string | undefined,
      idempotencyKey: firstHeader(request, "idempotency-key"),
      traceparent: firstHeader(request, "traceparent"),
      body: request.body,
    });
    if (options.roles.length > 0 && !roles.some((r) => options.roles.includes(r))) {
      return reply.code(403).send({
        error: "forbidden",
        message: `the token carries none of this API's roles (${options.roles.join(", ")}); grant one with keyless grant`,
      });
    }
    return reply.code(200).send({ standIn: options.name, method: request.method, path: request.url, roles });
  });
  await app.listen({ host: options.host ?? "127.0.0.1", port: 0 });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    name: options.name,
    url: `http://127.0.0.1:${port}/`,
    journal: () => journal,
    close: () => app.close(),
  };
}
