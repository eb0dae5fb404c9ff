import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { createEntraTokenValidator } from "@keyless/entra-auth";
import type { Logger } from "pino";

import { type Broker, type BrokerOptions, EMULATOR_DEFAULT_SAS_KEY, startBroker } from "./broker/index.ts";
import { ensureDevCa } from "./dev-ca.ts";
import { type IdentityPlatform, startIdentityPlatform } from "./identity/index.ts";
import { startOrdersApi } from "./orders-api/index.ts";
import { loadTenantFile, SAMPLE_TENANT_PATH, type Tenant, tenantFromObject } from "./tenant/index.ts";
import { type StandInApi, startStandInApi } from "./stand-in-api/stand-in-api.ts";

export const SAMPLE_TOPOLOGY_PATH = fileURLToPath(new URL("./broker/sample-config.json", import.meta.url));

/** Default ports, chosen to match what people know: App Service's MSI sample, AMQP(S), the emulator's 5300. */
export const DEFAULT_PORTS = {
  identity: 42356,
  api: 7071,
  amqps: 5671,
  amqp: 5672,
  brokerHttp: 5300,
} as const;

/** The entity the worker receives from (SERVICEBUS_ENTITIES in env()). */
const WORKER_ENTITY = "orders";

/** Where Service Bus tokens are meant for, with and without the trailing slash the SDK's scope produces. */
const SERVICE_BUS_AUDIENCES = ["https://servicebus.azure.net/", "https://servicebus.azure.net"];

export interface LocalStackOptions {
  tenantPath?: string;
  /** A tenant given as an object (tests); wins over tenantPath. */
  tenant?: unknown;
  /** The official Service Bus emulator's Config.json. */
  topologyPath?: string;
  /** A topology given as an object (tests); wins over topologyPath. */
  topology?: unknown;
  /** Port per part; 0 picks a free one. */
  ports?: Partial<Record<keyof typeof DEFAULT_PORTS, number>>;
  /** Where the development CA lives (created once, reused). */
  caDir?: string;
  /** Address to listen on; default 127.0.0.1 (0.0.0.0 in a container). */
  host?: string;
  /** The host name clients use (URLs in env(), the broker's TLS certificate); default localhost. */
  publicHost?: string;
  /** Fixed IDENTITY_HEADER (containers that share it through configuration); default: random per start. */
  identityHeader?: string;
  logger?: Logger;
  /** Which identity the worker runs as (name, client id or object id). Default: orders-worker. */
  workerIdentity?: string;
  /** Lock durations below the emulator's 5 s minimum, for tests. */
  allowShortDurations?: boolean;
}

export interface LocalStack {
  readonly tenant: Tenant;
  readonly identity: IdentityPlatform;
  /** The current broker (restartBroker replaces it). */
  readonly broker: Broker;
  readonly ordersApi: Awaited<ReturnType<typeof startOrdersApi>>;
  /** Stand-ins for the tenant's other APIs (applications with an `api` name), by that name. */
  readonly standIns: Readonly<Record<string, StandInApi>>;
  readonly caCertPath: string;
  readonly caCertPem: string;
  /**
   * Stops the broker and starts a fresh one on the same ports (its in-memory messages are gone, as with the
   * official emulator): what a worker sees when Service Bus restarts and every connection drops.
   */
  restartBroker(): Promise<void>;
  /** Everything a worker or an SDK client needs, as environment variables (what `keyless stack --write-env` writes). */
  env(): Record<string, string>;
  close(): Promise<void>;
}

/**
 * Starts the local platform: identity endpoint + issuer (+ Graph subset), the Service Bus–compatible broker (TLS
 * for token credentials, plain TCP for emulator connection strings) and the sample orders API, all on loopback.
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const host = options.host ?? "127.0.0.1";
  const publicHost = options.publicHost ?? "localhost";
  // HTTP URLs name the loopback address itself: "localhost" may resolve to ::1 first, where nothing listens.
  const httpHost = publicHost === "localhost" ? "127.0.0.1" : publicHost;
  const ports = { ...DEFAULT_PORTS, ...options.ports };
  const tenant =
    options.tenant !== undefined
      ? tenantFromObject(options.tenant, "tenant")
      : await loadTenantFile(options.tenantPath ?? SAMPLE_TENANT_PATH);
  const topology: unknown =
    options.topology ?? JSON.parse(await readFile(options.topologyPath ?? SAMPLE_TOPOLOGY_PATH, "utf8"));
  const worker = tenant.findIdentity(options.workerIdentity ?? "orders-worker");
  if (!worker)
    throw new Error(`the tenant has no managed identity "${options.workerIdentity ?? "orders-worker"}"`);
  const admin = tenant.findIdentity("keyless-admin");
  const ordersApp = tenant.findApplication("Orders API");
  if (!ordersApp) throw new Error('the tenant defines no application "Orders API" for the sample API');

  const started: Array<{ close(): Promise<void> }> = [];
  const closeAll = async () => {
    for (const part of started.reverse()) await part.close().catch(() => undefined);
  };
  try {
    const identity = await startIdentityPlatform({
      tenant,
      host,
      publicHost: httpHost,
      port: ports.identity,
      ...(options.identityHeader ? { identityHeader: options.identityHeader } : {}),
      ...(options.logger ? { logger: options.logger.child({ part: "identity" }) } : {}),
    });
    started.push(identity);

    const ordersApi = await startOrdersApi({
      authority: identity.authority,
      tenantId: tenant.tenantId,
      audiences: [...ordersApp.identifierUris, ordersApp.appId],
      host,
      port: ports.api,
    });
    started.push(ordersApi);

    // Absolute, so the env file works from any directory (NODE_EXTRA_CA_CERTS is read relative to the process's).
    const ca = await ensureDevCa(resolve(options.caDir ?? ".keyless/ca"));
    const tls = await ca.serverCert([...new Set(["localhost", "127.0.0.1", "::1", publicHost])]);
    const serviceBusTokens = createEntraTokenValidator({
      authority: identity.authority,
      tenantId: tenant.tenantId,
      audiences: SERVICE_BUS_AUDIENCES,
    });
    const brokerOptions = (tlsPort: number, plainPort: number, httpPort: number): BrokerOptions => ({
      config: topology,
      host,
      tlsPort,
      plainPort,
      httpPort,
      tls,
      ...(options.allowShortDurations ? { allowShortDurations: true } : {}),
      auth: {
        verifyJwt: async (token) => {
          const verified = await serviceBusTokens.verify(token);
          return {
            principalId: String(verified.claims.oid),
            expiresAtMs: Number(verified.claims.exp) * 1000,
          };
        },
        // Read at every put-token and attach, so role changes apply to new tokens and links.
        rightsOf: (principalId, entityPath) =>
          tenant.serviceBusRightsOf(principalId, broker.namespace, entityPath),
        sasKeys: [EMULATOR_DEFAULT_SAS_KEY],
      },
      ...(options.logger ? { logger: options.logger.child({ part: "broker" }) } : {}),
    });
    let broker = await startBroker(brokerOptions(ports.amqps, ports.amqp, ports.brokerHttp));
    started.push({ close: () => broker.close() });

    // Every other API the tenant names gets a stand-in, so a new handler runs after one tenant-file entry.
    const standIns: Record<string, StandInApi> = {};
    const served: Array<{ name: string; url: string; scope: string }> = [
      { name: "orders", url: ordersApi.url, scope: scopeOf(ordersApp) },
    ];
    for (const application of tenant.applications) {
      const name = application.api?.name;
      if (!name || name === "orders") continue;
      const standIn = await startStandInApi({
        name,
        authority: identity.authority,
        tenantId: tenant.tenantId,
        audiences: [...application.identifierUris, application.appId],
        roles: application.appRoles.map((r) => r.value),
        host,
      });
      started.push(standIn);
      standIns[name] = standIn;
      served.push({ name, url: standIn.url, scope: scopeOf(application) });
    }
    // An identity that may send to the worker's entity, for producers (the worker's own identity only receives).
    const sender = tenant.identities.find(
      (i) =>
        i !== worker && tenant.serviceBusRightsOf(i.objectId, broker.namespace, WORKER_ENTITY).has("Send"),
    );

    return {
      tenant,
      identity,
      get broker() {
        return broker;
      },
      ordersApi,
      standIns,
      caCertPath: ca.caCertPath,
      caCertPem: ca.caCertPem,
      restartBroker: async () => {
        const { tlsPort, plainPort, httpPort } = broker;
        await broker.close();
        broker = await startBroker(brokerOptions(tlsPort ?? 0, plainPort ?? 0, httpPort ?? 0));
      },
      env: () => ({
        IDENTITY_ENDPOINT: identity.identityEndpoint,
        IDENTITY_HEADER: identity.identityHeader,
        AZURE_CLIENT_ID: worker.clientId,
        AZURE_TENANT_ID: tenant.tenantId,
        KEYLESS_AUTHORITY: identity.authority,
        KEYLESS_GRAPH_URL: identity.graphUrl,
        ...(admin ? { KEYLESS_ADMIN_CLIENT_ID: admin.clientId } : {}),
        ...(sender ? { KEYLESS_SENDER_CLIENT_ID: sender.clientId } : {}),
        SERVICEBUS_FULLY_QUALIFIED_NAMESPACE: `${publicHost}:${broker.tlsPort}`,
        SERVICEBUS_CONNECTION_STRING: `Endpoint=sb://${publicHost}:${broker.plainPort};SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;`,
        SERVICEBUS_ENTITIES: WORKER_ENTITY,
        ...(broker.httpPort !== undefined
          ? { KEYLESS_BROKER_INSPECTION_URL: `http://${httpHost}:${broker.httpPort}/` }
          : {}),
        NODE_EXTRA_CA_CERTS: ca.caCertPath,
        KEYLESS_CA_CERTS: ca.caCertPath,
        ...Object.fromEntries(
          served.flatMap((a) => [
            [`API_${a.name.toUpperCase()}_BASE_URL`, a.url],
            [`API_${a.name.toUpperCase()}_SCOPE`, a.scope],
          ]),
        ),
        // Several local workers share one machine (8080 is for containers): each takes a free port and logs it.
        WORKER_HEALTH_PORT: "0",
      }),
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/** The scope a worker asks for an application's tokens: its first App ID URI, else api://<appId>. */
function scopeOf(application: { identifierUris: readonly string[]; appId: string }): string {
  return `${application.identifierUris[0] ?? `api://${application.appId}`}/.default`;
}
