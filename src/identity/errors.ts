import { PermanentError, TransientError } from "../shared/failure.ts";

/**
 * The identity layer's named errors, on the shared vocabulary of src/shared/failure.ts. None of them ever carries a token: messages hold ids, role names, scopes and
 * the SDK's reason, and `cause` holds the SDK's own error (which, per @azure/identity 4.14.1, holds no token either).
 */

/** Thrown by chooseCredential when the environment asks for a setup we refuse (a secret, a malformed id). Fatal. */
export class CredentialConfigError extends Error {
  override name = "CredentialConfigError";
  /** The environment variables at fault, for a reader who greps the deployment. */
  readonly variables: readonly string[];

  constructor(problems: ReadonlyArray<{ variable: string; problem: string }>) {
    super(
      `the credential environment is not usable:\n${problems.map((p) => `  ${p.variable}: ${p.problem}`).join("\n")}`,
    );
    this.variables = [...new Set(problems.map((p) => p.variable))];
  }
}

/**
 * Thrown by the role-token provider when no token came: the credential failed, returned nothing, or did not
 * answer within the timeout. Retryable: the endpoint may answer on the next attempt.
 */
export class TokenAcquisitionError extends TransientError {
  override name = "TokenAcquisitionError";
  readonly api: string;
  readonly scope: string;
  /** Milliseconds from the credential call to the failure. */
  readonly elapsedMs: number;
  /** True when our timeout gave up on a credential that had not answered (the SDK itself would wait forever). */
  readonly timedOut: boolean;

  constructor(
    details: { api: string; scope: string; elapsedMs: number; timedOut: boolean; reason: string },
    options?: { cause?: unknown },
  ) {
    super(
      `no token for API "${details.api}" (scope ${details.scope}) after ${details.elapsedMs} ms: ${details.reason}`,
      options ?? {},
    );
    this.api = details.api;
    this.scope = details.scope;
    this.elapsedMs = details.elapsedMs;
    this.timedOut = details.timedOut;
  }
}

/**
 * Thrown by the role-token provider when the identity's token for an API lacks a role the caller needs. Not
 * retryable: nothing changes until someone grants the role and the identity's cached token expires.
 */
export class MissingAppRoleError extends PermanentError {
  override name = "MissingAppRoleError";
  /** The API's name as the worker knows it, e.g. "orders". */
  readonly api: string;
  readonly scope: string;
  readonly missingRoles: readonly string[];
  readonly grantedRoles: readonly string[];
  /** The identity's service-principal object id (`oid`), what `keyless grant --identity` and Graph want. */
  readonly objectId: string;
  /** The identity's client id (`appid`/`azp`), when the token carries it. */
  readonly appId: string | undefined;

  constructor(details: {
    api: string;
    scope: string;
    missingRoles: readonly string[];
    grantedRoles: readonly string[];
    objectId: string;
    appId: string | undefined;
  }) {
    const resource = resourceOf(details.scope);
    const grants = details.missingRoles
      .map((role) => `keyless grant --identity ${details.objectId} --api ${resource} --role ${role}`)
      .join(" && ");
    // Read in dead-letter lists and logs: what is wrong first, then the fix, then the details. Each line is a
    // sentence, so it still reads well where line breaks are flattened. No token, only ids and role names.
    super(
      "MissingAppRole",
      [
        `Missing app role${details.missingRoles.length > 1 ? "s" : ""} ${details.missingRoles.join(", ")} on API "${details.api}".`,
        `Fix: ${grants} (it prints the az rest equivalent too).`,
        `Tokens carry a new role once the identity's cached token expires (up to ~24 h in Azure); then: keyless dlq resubmit <entity> --reason MissingAppRole.`,
        `Identity ${details.objectId}${details.appId ? ` (client id ${details.appId})` : ""} has on ${resource}: ${details.grantedRoles.join(", ") || "no roles"}.`,
      ].join("\n"),
    );
    this.api = details.api;
    this.scope = details.scope;
    this.missingRoles = details.missingRoles;
    this.grantedRoles = details.grantedRoles;
    this.objectId = details.objectId;
    this.appId = details.appId;
  }
}

/**
 * Thrown by readTokenClaims when a credential hands back something that is not an Entra access token. The provider
 * wraps it in a TokenAcquisitionError: like an endpoint that is down, it is the token source's fault, not the
 * message's, so the worker goes not ready and holds its messages rather than dead-letter them all. Never quotes the
 * token.
 */
export class TokenFormatError extends Error {
  override name = "TokenFormatError";
}

/** `api://x/.default` → `api://x`: what Entra calls the resource and what `keyless grant --api` accepts. */
export function resourceOf(scope: string): string {
  return scope.replace(/\/\.default$/, "");
}
