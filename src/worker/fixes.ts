/**
 * What to do about a failure the worker cannot fix itself: one sentence per cause, naming the variable or the
 * command. The worker says it once, at warn level, and puts it in /readyz; `keyless doctor` prints the same words.
 */
import type { CredentialSource } from "../identity/index.ts";
import type { EntityRef, WorkerConfig } from "./config.ts";

/** The code and message of a Service Bus SDK error (unwrapping the AggregateError the SDK's retries produce). */
export function serviceBusErrorOf(error: unknown): { code: string | undefined; message: string } {
  if (error instanceof AggregateError && error.errors.length > 0) {
    const inner = error.errors.find((e: unknown) => (e as { code?: unknown })?.code) ?? error.errors.at(-1);
    return serviceBusErrorOf(inner);
  }
  const e = error as { code?: unknown; message?: unknown };
  return {
    code: typeof e?.code === "string" ? e.code : undefined,
    message: typeof e?.message === "string" && e.message ? e.message : String(error),
  };
}

/** How to fix a failure to receive from `entity`, by the SDK's error code (and, where the code is vague, its words). */
export function receiveFix(
  code: string | undefined,
  entity: EntityRef,
  config: WorkerConfig,
  objectId?: string,
  message = "",
): string {
  const host =
    config.serviceBus.kind === "identity"
      ? config.serviceBus.fullyQualifiedNamespace
      : config.serviceBus.endpoint;
  const namespace = host.replace(/^sb:\/\//, "").split(/[.:/]/)[0] ?? "<namespace>";
  const scopePath =
    entity.kind === "queue"
      ? `/queues/${entity.queue}`
      : `/topics/${entity.topic}/subscriptions/${entity.subscription}`;
  if (code === "UnauthorizedAccess") {
    if (config.serviceBus.kind === "connectionString") {
      return "the connection string's key lacks Listen on this entity: use a key with Listen rights";
    }
    return (
      `identity lacks Azure Service Bus Data Receiver on ${entity.path}: az role assignment create --role "Azure Service Bus Data Receiver" ` +
      `--assignee-object-id ${objectId ?? "<identity object id>"} --assignee-principal-type ServicePrincipal ` +
      `--scope "$(az servicebus namespace show --name ${namespace} --resource-group <resource-group> --query id -o tsv)${scopePath}" ` +
      `(assign it directly to the identity, not through a group; allow up to 10 minutes)`
    );
  }
  // Both refusals come as amqp:not-allowed, which the SDK reports as a GeneralError: told apart by Azure's words.
  if (/requires sessions to create a non-sessionful/i.test(message)) {
    return `${entity.path} requires sessions: list it in SERVICEBUS_SESSION_ENTITIES (as well as in SERVICEBUS_ENTITIES)`;
  }
  if (
    /sessionful message receiver cannot be created on an entity that does not require sessions/i.test(message)
  ) {
    return `${entity.path} does not require sessions: remove it from SERVICEBUS_SESSION_ENTITIES`;
  }
  if (code === "MessagingEntityNotFound") {
    return `no such entity ${entity.path} in ${host}: create it, or correct SERVICEBUS_ENTITIES`;
  }
  return `cannot receive from ${host}: check SERVICEBUS_FULLY_QUALIFIED_NAMESPACE, network access (AMQP 5671 or WebSockets 443), and NODE_EXTRA_CA_CERTS for the local broker`;
}

/** How to fix a failure to get a token, by where the credential gets them and what the endpoint said. */
export function tokenFix(
  source: CredentialSource,
  options: { clientId?: string | undefined; resource?: string; error?: unknown } = {},
): string {
  const said = String((options.error as Error | undefined)?.message ?? "");
  switch (source) {
    case "Imds":
      return (
        "IDENTITY_ENDPOINT is not set, so the identity SDK asks IMDS (169.254.169.254), which did not answer: " +
        "enable a managed identity on the app (Container Apps and App Service then set IDENTITY_ENDPOINT and IDENTITY_HEADER), " +
        "or locally run keyless stack --write-env .env.local and load that file (node --env-file=.env.local …)"
      );
    case "AppService":
      if (/IDENTITY[-_]HEADER/i.test(said)) {
        return "IDENTITY_HEADER does not match the identity endpoint's secret: do not set it by hand (the platform sets it; locally, load the env file keyless stack wrote)";
      }
      return (
        `the identity endpoint refused: check that the app has ${options.clientId ? `the user-assigned identity with client id ${options.clientId} attached` : "a system-assigned identity enabled"}` +
        (options.resource
          ? ` and that ${options.resource} is the App ID URI or appId of an API registered in the identity's tenant`
          : "")
      );
    case "WorkloadIdentity":
      return "check the federated credential on the identity matches the pod's service account, and AZURE_FEDERATED_TOKEN_FILE is readable";
    case "Developer":
      return "run az login (KEYLESS_CREDENTIAL=developer uses your Azure CLI login)";
    default:
      return "check the managed identity is enabled for this host";
  }
}
