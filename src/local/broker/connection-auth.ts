/**
 * What one AMQP connection has proven through $cbs put-token: per audience, who (a JWT principal or a SAS key) and
 * until when. Tokens are per connection, as in Service Bus; a refreshed put-token for the same audience replaces the
 * old one. Rights are looked up at attach time, so role changes apply to new links.
 */
import { audiencePath } from "./addresses.ts";
import type { BrokerAuth, Right } from "./auth-types.ts";
import { invalidToken, missingClaim } from "./errors.ts";
import { SasTokenError, verifySasToken } from "./sas-token.ts";

interface Grant {
  readonly audience: string;
  readonly principalId: string | undefined;
  readonly sasRights: ReadonlySet<Right> | undefined;
  readonly expiresAtMs: number;
}

export const JWT_TOKEN_TYPE = "jwt";
export const SAS_TOKEN_TYPE = "servicebus.windows.net:sastoken";

export class ConnectionAuth {
  readonly #auth: BrokerAuth;
  readonly #grants = new Map<string, Grant>();

  constructor(auth: BrokerAuth) {
    this.#auth = auth;
  }

  /** Validates a token for an audience and remembers it; throws an AmqpRefusal (401) saying why, never echoing the token. */
  async putToken(audience: string, type: string, token: string): Promise<void> {
    const path = audiencePath(audience);
    if (type === SAS_TOKEN_TYPE || token.startsWith("SharedAccessSignature ")) {
      let verified;
      try {
        verified = verifySasToken(token, this.#auth.sasKeys);
      } catch (error) {
        throw invalidToken(
          error instanceof SasTokenError ? error.message : "the SAS token could not be verified",
          audience,
        );
      }
      const covered = audiencePath(verified.resource);
      if (covered !== "" && path !== covered && !path.startsWith(`${covered}/`)) {
        throw invalidToken(
          `the SAS token was signed for '${verified.resource}', not for this audience`,
          audience,
        );
      }
      this.#grants.set(path, {
        audience,
        principalId: undefined,
        sasRights: verified.rights,
        expiresAtMs: verified.expiresAtMs,
      });
      return;
    }
    if (type !== JWT_TOKEN_TYPE) throw invalidToken(`unsupported token type '${type}'`, audience);
    let who;
    try {
      who = await this.#auth.verifyJwt(token);
    } catch (error) {
      throw invalidToken(error instanceof Error ? error.message : "the JWT could not be verified", audience);
    }
    this.#grants.set(path, {
      audience,
      principalId: who.principalId,
      sasRights: undefined,
      expiresAtMs: who.expiresAtMs,
    });
  }

  /**
   * Requires a live token covering `nodePath` (the address the link attaches to) that carries `right` on the entity
   * `rbacPath`. Returns the covering audience key, which the link keeps to notice expiry.
   */
  authorize(nodePath: string, rbacPath: string, right: Right, resource: string): string {
    const key = this.#coveringKey(audiencePath(nodePath));
    const grant = key === undefined ? undefined : this.#grants.get(key);
    if (grant === undefined) throw missingClaim(right, resource);
    if (grant.expiresAtMs <= Date.now())
      throw invalidToken("ExpiredToken: the token is expired", grant.audience);
    const rights = grant.sasRights ?? this.#auth.rightsOf(grant.principalId!, rbacPath);
    // Manage implies Send and Listen, as in Service Bus.
    if (!rights.has(right) && !rights.has("Manage")) throw missingClaim(right, grant.audience);
    return key!;
  }

  /** Expiry of the token remembered under a key (Infinity-safe: 0 when gone). */
  expiresAt(key: string): number {
    return this.#grants.get(key)?.expiresAtMs ?? 0;
  }

  #coveringKey(path: string): string | undefined {
    let best: string | undefined;
    for (const key of this.#grants.keys()) {
      if (key === path || key === "" || path.startsWith(`${key}/`)) {
        if (best === undefined || key.length > best.length) best = key;
      }
    }
    return best;
  }
}
