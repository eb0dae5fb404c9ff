import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from "fastify";

import type { VerifiedToken } from "./entra-token-validator.ts";
import { TokenValidationError } from "./entra-token-validator.ts";

const verified = new WeakMap<FastifyRequest, VerifiedToken>();

/** The caller's verified token, after `authenticate` ran for this request. */
export function callerOf(request: FastifyRequest): VerifiedToken | undefined {
  return verified.get(request);
}

/**
 * Fastify pre-handlers for your own APIs: `authenticate` checks the bearer token (401 with an RFC 6750
 * WWW-Authenticate otherwise); `requireAppRoles` answers 403 naming the missing role, the caller and how to grant it.
 *
 *   const auth = entraAuth(createEntraTokenValidator({ tenantId, audiences: ["api://<appId>", "<appId>"] }));
 *   app.post("/orders/:id/refunds", { preHandler: [auth.authenticate, auth.requireAppRoles("Orders.Refund")] }, …)
 */
export function entraAuth(
  validator: { verify(token: string): Promise<VerifiedToken> },
  realm = "api",
): {
  authenticate: preHandlerAsyncHookHandler;
  requireAppRoles(...roles: string[]): preHandlerAsyncHookHandler;
} {
  const challenge = (reply: FastifyReply, description?: string) => {
    const value = description
      ? `Bearer realm="${realm}", error="invalid_token", error_description="${description.replaceAll('"', "'")}"`
      : `Bearer realm="${realm}"`;
    return reply
      .code(401)
      .header("www-authenticate", value)
      .send({
        error: description ? "invalid_token" : "missing_token",
        message: description ?? "a bearer token is required",
      });
  };

  return {
    async authenticate(request, reply) {
      const header = request.headers.authorization;
      const token = header && /^Bearer\s+(\S+)$/i.exec(header)?.[1];
      if (!token) return challenge(reply);
      try {
        verified.set(request, await validator.verify(token));
      } catch (error) {
        if (error instanceof TokenValidationError) return challenge(reply, error.description);
        throw error;
      }
    },
    requireAppRoles(...roles) {
      return async (request, reply) => {
        const caller = verified.get(request);
        if (!caller) return challenge(reply);
        const missing = roles.filter((r) => !caller.claims.roles.includes(r));
        if (missing.length === 0) return;
        return reply.code(403).send({
          error: "insufficient_app_role",
          message: `the caller lacks app role ${missing.join(", ")}`,
          missingRoles: missing,
          callerRoles: caller.claims.roles,
          callerObjectId: caller.claims.oid,
          hint: `grant it: keyless grant --identity ${caller.claims.oid} --api <this API's appId or App ID URI> --role ${missing[0]}; new tokens carry it once the cached one expires`,
        });
      };
    },
  };
}
