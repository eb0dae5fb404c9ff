import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from "fastify";

import type { VerifiedToken } from "./token-validator.ts";
import { TokenValidationError } from "./token-validator.ts";

/** What `authenticate` needs: `createEntraTokenValidator(…)` or anything shaped like it (a fake in unit tests). */
export interface TokenVerifier {
  verify(token: string): Promise<VerifiedToken>;
}

export interface EntraAuthOptions {
  /** The realm in WWW-Authenticate challenges. Default "api". */
  realm?: string;
  /**
   * The API's appId (or App ID URI), for the grant hint in a 403. Default: the token's `aud`, which names the API in
   * both token versions.
   */
  apiAppId?: string;
  /** Seconds in Retry-After when the issuer's metadata or keys cannot be fetched (503). Default 5. */
  retryAfterSeconds?: number;
}

export interface EntraAuth {
  /** preHandler: a valid bearer token or 401 with an RFC 6750 challenge (503 if the issuer is unreachable). */
  authenticate: preHandlerAsyncHookHandler;
  /** preHandler after `authenticate`: every role listed or 403 naming the missing ones and how to grant them. */
  requireAppRoles(...roles: string[]): preHandlerAsyncHookHandler;
}

// A WeakMap rather than a fastify decoration: no global type augmentation, and nothing outlives the request.
const verified = new WeakMap<FastifyRequest, VerifiedToken>();

/** The caller's verified token, after `authenticate` accepted it for this request. */
export function callerOf(request: FastifyRequest): VerifiedToken | undefined {
  return verified.get(request);
}

/**
 * RFC 6750 §3 allows only %x20-21 / %x23-5B / %x5D-7E in error_description, and Node refuses some header bytes
 * outright; descriptions echo claim values the caller chose. Quotes become ', backslashes /, anything else "?".
 */
function quotable(text: string): string {
  return text
    .replaceAll('"', "'")
    .replaceAll("\\", "/")
    .replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, "?")
    .slice(0, 300);
}

/**
 * Fastify pre-handlers for your own APIs. `authenticate` checks the bearer token; `requireAppRoles` checks app
 * roles. Tokens never reach logs, errors or bodies: only claims do.
 *
 *   const auth = entraAuth(createEntraTokenValidator({ tenantId, audiences: ["api://<appId>", "<appId>"] }));
 *   app.post("/orders/:id/refunds", { preHandler: [auth.authenticate, auth.requireAppRoles("Orders.Refund")] }, …)
 *   // in the handler: callerOf(request)?.claims.oid
 */
export function entraAuth(validator: TokenVerifier, options: EntraAuthOptions = {}): EntraAuth {
  const realm = quotable(options.realm ?? "api");

  const challenge = (reply: FastifyReply, description?: string) => {
    // No token at all: a bare challenge, no error code (RFC 6750 §3.1).
    const value = description
      ? `Bearer realm="${realm}", error="invalid_token", error_description="${quotable(description)}"`
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
      const token = header && /^Bearer +(\S+) *$/i.exec(header)?.[1];
      if (!token) return challenge(reply);
      try {
        verified.set(request, await validator.verify(token));
      } catch (error) {
        if (!(error instanceof TokenValidationError)) throw error;
        if (error.code === "issuer_unavailable") {
          request.log.warn({ reason: error.description }, "cannot validate bearer tokens now");
          return reply
            .code(503)
            .header("retry-after", String(options.retryAfterSeconds ?? 5))
            .send({ error: "temporarily_unavailable", message: error.description });
        }
        return challenge(reply, error.description);
      }
    },

    requireAppRoles(...roles) {
      return async (request, reply) => {
        const caller = verified.get(request);
        // Listed without authenticate before it: fail closed rather than let the route run.
        if (!caller) return challenge(reply);
        const missing = roles.filter((r) => !caller.claims.roles.includes(r));
        if (missing.length === 0) return;
        const api = options.apiAppId ?? String(caller.claims.aud);
        return reply.code(403).send({
          error: "insufficient_app_role",
          message: `the caller lacks app role ${missing.join(", ")}`,
          missingRoles: missing,
          callerRoles: caller.claims.roles,
          callerObjectId: caller.claims.oid,
          callerAppId: caller.callerAppId,
          hint: `grant with keyless grant --identity ${caller.claims.oid} --api ${api} --role ${missing[0]}; new tokens carry it after the cached one expires (managed identity tokens are cached up to ~24 h)`,
        });
      };
    },
  };
}
