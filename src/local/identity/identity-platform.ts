import { randomBytes } from "node:crypto";

import Fastify, { type FastifyBaseLogger } from "fastify";
import type { Logger } from "pino";

import type { Tenant } from "../tenant/index.ts";
import { graphRoutes } from "./graph-routes.ts";
import { managedIdentityRoutes, type IdentityEndpointFault } from "./managed-identity-routes.ts";
import { oidcRoutes } from "./oidc-routes.ts";
import { SigningKeys } from "./signing-keys.ts";
import { TokenIssuer } from "./token-issuer.ts";

export interface IdentityPlatformOptions {
  tenant: Tenant;
  /** Default 127.0.0.1. */
  host?: string;
  /** The host name clients use to reach it (in URLs and the token issuer); default: `host`. */
  publicHost?: string;
  /** Default 42356 (App Service's documented local port); 0 picks a free port. */
  port?: number;
  /** The secret clients must send as X-IDENTITY-HEADER; default: random per start, like the platform's. */
  identityHeader?: string;
  logger?: Logger;
}

export interface IdentityPlatform {
  readonly tenant: Tenant;
  readonly issuer: TokenIssuer;
  /** Base URL of the local "login.microsoftonline.com": discovery is at `${authority}/${tenantId}/v2.0/.well-known/…`. */
  readonly authority: string;
  /** Base of the local Microsoft Graph subset (what https://graph.microsoft.com is in Azure). */
  readonly graphUrl: string;
  /** What to put in IDENTITY_ENDPOINT. */
  readonly identityEndpoint: string;
  /** What to put in IDENTITY_HEADER. */
  readonly identityHeader: string;
  readonly port: number;
  /** Token requests received by the managed-identity endpoint since start. */
  readonly tokenRequests: number;
  /** Makes the managed-identity endpoint misbehave (tests and demos); `{ kind: "none" }` restores it. */
  setFault(fault: IdentityEndpointFault): void;
  /** Starts signing with a new key; the previous key stays in the JWKS. Returns the new kid. */
  rotateSigningKey(): Promise<string>;
  close(): Promise<void>;
}

/**
 * The local identity platform: the App Service managed-identity endpoint, an Entra-shaped token issuer with OIDC
 * discovery and JWKS, serving one declarative tenant. One HTTP server on loopback.
 */
export async function startIdentityPlatform(options: IdentityPlatformOptions): Promise<IdentityPlatform> {
  const host = options.host ?? "127.0.0.1";
  const identityHeader = options.identityHeader ?? randomBytes(24).toString("base64url");
  const keys = await SigningKeys.create();
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger | undefined,
    forceCloseConnections: true,
  });
  let tokenRequests = 0;
  let fault: IdentityEndpointFault = { kind: "none" };

  // The authority contains the port, which is known only after listen.
  let authority = "";
  const issuer = new TokenIssuer(options.tenant, keys, () => authority);
  oidcRoutes(app, options.tenant, keys, () => authority);
  graphRoutes(app, options.tenant, keys, () => authority);
  managedIdentityRoutes(app, {
    tenant: options.tenant,
    issuer,
    identityHeader,
    onTokenRequest: () => {
      tokenRequests += 1;
    },
    fault: () => {
      if (fault.kind === "status" && fault.count !== undefined) {
        const remaining = fault.count - 1;
        const status = fault.status;
        fault = remaining <= 0 ? { kind: "none" } : { ...fault, count: remaining };
        return { kind: "status", status };
      }
      return fault;
    },
  });

  await app.listen({ host, port: options.port ?? 42356 });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const publicHost = options.publicHost ?? host;
  authority = `http://${publicHost.includes(":") ? `[${publicHost}]` : publicHost}:${port}`;

  return {
    tenant: options.tenant,
    issuer,
    authority,
    identityEndpoint: `${authority}/msi/token`,
    graphUrl: `${authority}/graph`,
    identityHeader,
    port,
    get tokenRequests() {
      return tokenRequests;
    },
    setFault(next) {
      fault = next;
    },
    rotateSigningKey: () => keys.rotate(),
    close: async () => {
      await app.close();
    },
  };
}
