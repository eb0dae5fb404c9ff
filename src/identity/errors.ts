/** The environment asks for a credential setup we refuse (a secret, a malformed id); names the variables. Fatal. */
export class CredentialConfigError extends Error {
  override name = "CredentialConfigError";
}

/** No token could be had in time (endpoint down, hanging, refusing). Retryable: the next attempt may succeed. */
export class TokenAcquisitionError extends Error {
  override name = "TokenAcquisitionError";
  readonly retryable = true;
}

/** The token for an API lacks a role a handler needs. Not retryable until someone grants the role. */
export class MissingAppRoleError extends Error {
  override name = "MissingAppRoleError";
  readonly retryable = false;
  readonly api: string;
  readonly scope: string;
  readonly missingRoles: readonly string[];
  readonly grantedRoles: readonly string[];
  readonly objectId: string;
  readonly appId: string | undefined;

  constructor(details: {
    api: string;
    scope: string;
    missingRoles: readonly string[];
    grantedRoles: readonly string[];
    objectId: string;
    appId: string | undefined;
  }) {
    const resource = details.scope.replace(/\/\.default$/, "");
    const missing = details.missingRoles.join(", ");
    super(
      `Identity ${details.objectId}${details.appId ? ` (client id ${details.appId})` : ""} lacks app role ${missing} ` +
        `on API "${details.api}" (${resource}). It has: ${details.grantedRoles.join(", ") || "no roles"}. ` +
        `Grant it: keyless grant --identity ${details.objectId} --api ${resource} --role ${details.missingRoles[0]} ` +
        `(or POST /servicePrincipals/{api sp id}/appRoleAssignedTo through Microsoft Graph). ` +
        `Role changes reach tokens only when the cached token expires (up to about 24 h in Azure); then resubmit with keyless dlq resubmit.`,
    );
    this.api = details.api;
    this.scope = details.scope;
    this.missingRoles = details.missingRoles;
    this.grantedRoles = details.grantedRoles;
    this.objectId = details.objectId;
    this.appId = details.appId;
  }
}
