import { randomUUID } from "node:crypto";

import { BUILT_IN_APPLICATIONS } from "./built-in-applications.ts";
import type { Application, AppRole, ManagedIdentity, ServiceBusRole, TenantFile } from "./schema.ts";

export type ServiceBusRight = "Send" | "Listen" | "Manage";

/** One app role granted to one service principal on one application, as Graph's appRoleAssignment has it. */
export interface AppRoleAssignment {
  readonly id: string;
  readonly principalId: string;
  readonly resourceId: string;
  readonly appRoleId: string;
  readonly createdDateTime: string;
}

export interface ServiceBusRoleAssignment {
  readonly principalId: string;
  readonly role: ServiceBusRole;
  readonly scope: string;
}

const RIGHTS_BY_ROLE: Record<ServiceBusRole, readonly ServiceBusRight[]> = {
  "Azure Service Bus Data Owner": ["Manage", "Send", "Listen"],
  "Azure Service Bus Data Sender": ["Send"],
  "Azure Service Bus Data Receiver": ["Listen"],
};

/** Thrown when a tenant file refers to something it does not define. */
export class TenantReferenceError extends Error {
  override name = "TenantReferenceError";
}

const sameText = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
const identityIs = (i: ManagedIdentity, ref: string) =>
  sameText(i.name, ref) ||
  sameText(i.clientId, ref) ||
  sameText(i.objectId, ref) ||
  (i.resourceId !== undefined && sameText(i.resourceId, ref));
const withoutTrailingSlash = (s: string) => s.replace(/\/+$/, "");

/**
 * The local tenant at run time: who exists, which apps expose which roles, and who has been granted what.
 * Assignments change at run time (Graph calls from `keyless grant`); tokens issued afterwards reflect them.
 */
export class Tenant {
  readonly tenantId: string;
  readonly tokenLifetimeSeconds: number;
  readonly identities: readonly ManagedIdentity[];
  readonly applications: readonly Application[];
  #appRoleAssignments: AppRoleAssignment[] = [];
  #serviceBusRoleAssignments: ServiceBusRoleAssignment[] = [];

  constructor(file: TenantFile) {
    this.tenantId = file.tenantId;
    this.tokenLifetimeSeconds = file.tokenLifetimeSeconds;
    this.identities = file.managedIdentities;
    this.applications = [...BUILT_IN_APPLICATIONS, ...file.applications];
    const problems = [...this.#duplicates(file), ...this.#load(file)];
    if (problems.length > 0) throw new TenantReferenceError(problems.join("\n"));
  }

  /** An identity by name, client id, object id or ARM resource id (case-insensitive). */
  findIdentity(ref: string): ManagedIdentity | undefined {
    return this.identities.find((i) => identityIs(i, ref));
  }

  systemAssignedIdentity(): ManagedIdentity | undefined {
    return this.identities.find((i) => i.systemAssigned);
  }

  /** The application a token `resource` names: an identifier URI or the appId, trailing slashes ignored. */
  findApplicationByResource(resource: string): Application | undefined {
    const wanted = withoutTrailingSlash(resource);
    return this.applications.find(
      (a) =>
        sameText(a.appId, wanted) ||
        a.identifierUris.some((uri) => sameText(withoutTrailingSlash(uri), wanted)),
    );
  }

  /** An application by display name, appId, identifier URI or service-principal id. */
  findApplication(ref: string): Application | undefined {
    return (
      this.findApplicationByResource(ref) ??
      this.applications.find((a) => sameText(a.displayName, ref) || sameText(a.servicePrincipalId, ref))
    );
  }

  appRoleAssignments(): readonly AppRoleAssignment[] {
    return this.#appRoleAssignments;
  }

  /** The enabled role values `principalId` holds on `application`, for a token's `roles` claim. */
  rolesOf(principalId: string, application: Application): string[] {
    const roleIds = new Set(
      this.#appRoleAssignments
        .filter((a) => a.principalId === principalId && a.resourceId === application.servicePrincipalId)
        .map((a) => a.appRoleId),
    );
    return application.appRoles.filter((r) => r.isEnabled && roleIds.has(r.id)).map((r) => r.value);
  }

  /** Grants a role; returns the existing assignment, marked, when it was already granted. */
  assignAppRole(input: { principalId: string; resourceId: string; appRoleId: string }): {
    assignment: AppRoleAssignment;
    created: boolean;
  } {
    const existing = this.#appRoleAssignments.find(
      (a) =>
        a.principalId === input.principalId &&
        a.resourceId === input.resourceId &&
        a.appRoleId === input.appRoleId,
    );
    if (existing) return { assignment: existing, created: false };
    const assignment: AppRoleAssignment = {
      id: randomUUID(),
      ...input,
      createdDateTime: new Date().toISOString(),
    };
    this.#appRoleAssignments.push(assignment);
    return { assignment, created: true };
  }

  removeAppRoleAssignment(id: string): boolean {
    const before = this.#appRoleAssignments.length;
    this.#appRoleAssignments = this.#appRoleAssignments.filter((a) => a.id !== id);
    return this.#appRoleAssignments.length < before;
  }

  serviceBusRoleAssignments(): readonly ServiceBusRoleAssignment[] {
    return this.#serviceBusRoleAssignments;
  }

  assignServiceBusRole(assignment: ServiceBusRoleAssignment): void {
    const exists = this.#serviceBusRoleAssignments.some(
      (a) =>
        a.principalId === assignment.principalId &&
        a.role === assignment.role &&
        sameText(a.scope, assignment.scope),
    );
    if (!exists) this.#serviceBusRoleAssignments.push(assignment);
  }

  /**
   * The Service Bus data rights of a principal on an entity, like Azure RBAC: an assignment at the namespace covers
   * every entity; one on a topic covers its subscriptions. `entityPath` is `orders`, `events` or
   * `events/subscriptions/audit` (a `/$DeadLetterQueue` suffix counts as its entity).
   */
  serviceBusRightsOf(principalId: string, namespace: string, entityPath: string): Set<ServiceBusRight> {
    const entity = entityPath.replace(/\/\$deadletterqueue$/i, "").split("/");
    const [topicOrQueue, sub, subName] = entity;
    const coveringScopes = [namespace.toLowerCase()];
    if (topicOrQueue !== undefined) {
      coveringScopes.push(`${namespace}/queues/${topicOrQueue}`.toLowerCase());
      coveringScopes.push(`${namespace}/topics/${topicOrQueue}`.toLowerCase());
      if (sub?.toLowerCase() === "subscriptions" && subName !== undefined) {
        coveringScopes.push(`${namespace}/topics/${topicOrQueue}/subscriptions/${subName}`.toLowerCase());
      }
    }
    const rights = new Set<ServiceBusRight>();
    for (const a of this.#serviceBusRoleAssignments) {
      if (a.principalId === principalId && coveringScopes.includes(a.scope.toLowerCase())) {
        for (const right of RIGHTS_BY_ROLE[a.role]) rights.add(right);
      }
    }
    return rights;
  }

  /**
   * Every name and id names one entry (case-insensitive, built-ins included): lookups take the first match, so a
   * second entry with a taken name or id would be silently unreachable.
   */
  #duplicates(file: TenantFile): string[] {
    const problems: string[] = [];
    const seen = new Map<string, string>();
    const claim = (key: string, owner: string, fix: string) => {
      const k = key.toLowerCase();
      const other = seen.get(k);
      if (other !== undefined && other !== owner) {
        problems.push(`"${key}" is used by both ${other} and ${owner}; ${fix}`);
      }
      if (other === undefined) seen.set(k, owner);
    };
    const RENAME = "rename one";
    const NEW_ID = 'give one a fresh GUID (node -p "crypto.randomUUID()")';
    for (const a of BUILT_IN_APPLICATIONS) {
      for (const key of [a.displayName, a.appId, a.servicePrincipalId])
        claim(key, `the built-in application ${a.displayName}`, "");
    }
    file.managedIdentities.forEach((i, index) => {
      const owner = `managedIdentities[${index}] (${i.name})`;
      // Azure has one name in several resource groups (Graph lists them all; keyless grant asks which): a name may
      // repeat when every identity of that name has its own resourceId. References by that name are refused (#load).
      const inResourceGroups = file.managedIdentities.every(
        (other) => !sameText(other.name, i.name) || other.resourceId !== undefined,
      );
      claim(
        i.name,
        inResourceGroups ? `the identities named ${i.name}` : owner,
        `${RENAME}, or give each its own resourceId (one name in several resource groups)`,
      );
      for (const key of [i.clientId, i.objectId]) claim(key, owner, NEW_ID);
      if (i.resourceId !== undefined) claim(i.resourceId, owner, "give one its own resourceId");
    });
    file.applications.forEach((a, index) => {
      const owner = `applications[${index}] (${a.displayName})`;
      const builtIn = BUILT_IN_APPLICATIONS.some((b) => sameText(b.displayName, a.displayName));
      claim(
        a.displayName,
        owner,
        builtIn
          ? "every tenant has the built-in one: remove this entry and assign its roles by name"
          : RENAME,
      );
      for (const key of [a.appId, a.servicePrincipalId]) claim(key, owner, NEW_ID);
    });
    if (file.managedIdentities.filter((i) => i.systemAssigned).length > 1) {
      problems.push("more than one managed identity has systemAssigned: true; at most one may");
    }
    return problems;
  }

  /** The one identity `ref` names; a problem for `where` when it names none or several. */
  #principal(ref: string, where: string, problems: string[]): ManagedIdentity | undefined {
    const matches = this.identities.flatMap((i, index) => (identityIs(i, ref) ? [{ i, index }] : []));
    if (matches.length === 0) problems.push(`${where}: no managed identity "${ref}"`);
    if (matches.length > 1) {
      const which = matches.map((m) => `managedIdentities[${m.index}]`).join(", ");
      problems.push(
        `${where}: "${ref}" names ${matches.length} managed identities (${which}); name one by client id, object id or resource id`,
      );
    }
    return matches.length === 1 ? matches[0]!.i : undefined;
  }

  #load(file: TenantFile): string[] {
    const problems: string[] = [];
    file.appRoleAssignments.forEach((a, index) => {
      const where = `appRoleAssignments[${index}]`;
      const principal = this.#principal(a.principal, `${where}.principal`, problems);
      const application = this.findApplication(a.application);
      const role: AppRole | undefined = application?.appRoles.find((r) => r.value === a.role);
      if (!application) problems.push(`${where}.application: no application "${a.application}"`);
      else if (!role) {
        const known = application.appRoles.map((r) => r.value).join(", ") || "none";
        problems.push(`${where}.role: "${a.application}" has no app role "${a.role}" (it has: ${known})`);
      } else if (!role.allowedMemberTypes.includes("Application")) {
        problems.push(`${where}.role: "${a.role}" does not allow member type Application`);
      }
      if (principal && application && role) {
        this.assignAppRole({
          principalId: principal.objectId,
          resourceId: application.servicePrincipalId,
          appRoleId: role.id,
        });
      }
    });
    file.serviceBusRoleAssignments.forEach((a, index) => {
      const principal = this.#principal(
        a.principal,
        `serviceBusRoleAssignments[${index}].principal`,
        problems,
      );
      if (!principal) return;
      this.assignServiceBusRole({ principalId: principal.objectId, role: a.role, scope: a.scope });
    });
    return problems;
  }
}
