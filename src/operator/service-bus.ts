import type { TokenCredential } from "@azure/identity";
import { ServiceBusClient, type ServiceBusClientOptions } from "@azure/service-bus";

import { chooseCredential } from "../identity/index.ts";
import { endpointOf, parseEntity } from "../worker/config.ts";

type Env = Readonly<Record<string, string | undefined>>;

export interface ServiceBusConnection {
  readonly client: ServiceBusClient;
  /** How it authenticates, for the output; never the connection string. */
  readonly description: string;
  /** The namespace host (or the connection string's endpoint host). */
  readonly namespace: string;
  readonly credential?: TokenCredential;
}

/**
 * A client by the worker's rules: SERVICEBUS_FULLY_QUALIFIED_NAMESPACE with the managed identity chooseCredential
 * picks (AZURE_CLIENT_ID, or `clientId` to act as another identity; "system" for the system-assigned one), else
 * SERVICEBUS_CONNECTION_STRING (emulators).
 */
export function connectServiceBus(
  env: Env,
  options: { clientId?: string; clientOptions?: ServiceBusClientOptions } = {},
): ServiceBusConnection {
  const effective: Record<string, string | undefined> = { ...env };
  if (options.clientId !== undefined) {
    effective.AZURE_CLIENT_ID = options.clientId.toLowerCase() === "system" ? undefined : options.clientId;
  }
  const fqns = effective.SERVICEBUS_FULLY_QUALIFIED_NAMESPACE?.trim();
  if (fqns) {
    const chosen = chooseCredential(effective);
    return {
      client: new ServiceBusClient(fqns, chosen.credential, options.clientOptions ?? {}),
      description: `${fqns} as ${chosen.description}`,
      namespace: fqns,
      credential: chosen.credential,
    };
  }
  const connectionString = effective.SERVICEBUS_CONNECTION_STRING?.trim();
  if (connectionString) {
    const endpoint = hostOf(endpointOf(connectionString));
    return {
      client: new ServiceBusClient(connectionString, options.clientOptions ?? {}),
      description: `${endpoint} with SERVICEBUS_CONNECTION_STRING (shared key; emulators only)`,
      namespace: endpoint,
    };
  }
  throw new Error(
    "set SERVICEBUS_FULLY_QUALIFIED_NAMESPACE (managed identity) or SERVICEBUS_CONNECTION_STRING (emulator); locally: keyless stack --write-env .env.local, then node --env-file=.env.local …",
  );
}

export { serviceBusErrorOf } from "../worker/fixes.ts";

/** Splits an entity argument: `queue` or `topic/subscriptions/name` (the worker's own parsing). */
export function entityParts(entity: string): { queue: string } | { topic: string; subscription: string } {
  const parsed = parseEntity(entity);
  if (!parsed) throw new Error(`"${entity}" is neither a queue name nor topic/subscriptions/name`);
  return parsed.kind === "queue"
    ? { queue: parsed.queue }
    : { topic: parsed.topic, subscription: parsed.subscription };
}

/** `sb://host:port/` → `host:port`, for people to read. */
function hostOf(endpoint: string | undefined): string {
  if (!endpoint) return "?";
  try {
    return new URL(endpoint).host || "?";
  } catch {
    return "?";
  }
}

export { withinTime as within } from "../shared/time-limit.ts";
