import type { FastifyInstance } from "fastify";

import type { Tenant } from "../tenant/index.ts";
import type { SigningKeys } from "./signing-keys.ts";
import { issuerUrl, type TokenVersion } from "./token-issuer.ts";

/**
 * OIDC discovery and JWKS at Entra's URL shapes, for both token versions:
 * `/{tenant}/.well-known/openid-configuration` (v1) and `/{tenant}/v2.0/.well-known/openid-configuration` (v2).
 */
export function oidcRoutes(
  app: FastifyInstance,
  tenant: Tenant,
  keys: SigningKeys,
  authorityOf: () => string,
): void {
  const metadata = (version: TokenVersion) => {
    const authority = authorityOf();
    const base =
      version === "1.0" ? `${authority}/${tenant.tenantId}` : `${authority}/${tenant.tenantId}/v2.0`;
    return {
      issuer: issuerUrl(authority, tenant.tenantId, version),
      jwks_uri: `${authority}/${tenant.tenantId}/discovery${version === "1.0" ? "" : "/v2.0"}/keys`,
      token_endpoint: `${base.replace(/\/v2\.0$/, "")}/oauth2${version === "1.0" ? "" : "/v2.0"}/token`,
      authorization_endpoint: `${base.replace(/\/v2\.0$/, "")}/oauth2${version === "1.0" ? "" : "/v2.0"}/authorize`,
      response_types_supported: ["code", "id_token", "code id_token", "token id_token", "token"],
      subject_types_supported: ["pairwise"],
      id_token_signing_alg_values_supported: ["RS256"],
      token_endpoint_auth_methods_supported: ["client_secret_post", "private_key_jwt", "client_secret_basic"],
      tenant_region_scope: "LOCAL",
      cloud_instance_name: "keyless.local",
    };
  };

  const knownTenant = (t: string) => t.toLowerCase() === tenant.tenantId.toLowerCase();
  const notFound = (t: string) => ({
    error: "invalid_tenant",
    error_description: `AADSTS90002: Tenant '${t}' not found. This local platform serves tenant ${tenant.tenantId}.`,
  });

  app.get<{ Params: { tenant: string } }>("/:tenant/.well-known/openid-configuration", async (req, reply) =>
    knownTenant(req.params.tenant) ? metadata("1.0") : reply.code(400).send(notFound(req.params.tenant)),
  );
  app.get<{ Params: { tenant: string } }>(
    "/:tenant/v2.0/.well-known/openid-configuration",
    async (req, reply) =>
      knownTenant(req.params.tenant) ? metadata("2.0") : reply.code(400).send(notFound(req.params.tenant)),
  );
  for (const path of ["/:tenant/discovery/keys", "/:tenant/discovery/v2.0/keys"]) {
    app.get<{ Params: { tenant: string } }>(path, async (req, reply) =>
      knownTenant(req.params.tenant) ? keys.jwks() : reply.code(400).send(notFound(req.params.tenant)),
    );
  }
}
