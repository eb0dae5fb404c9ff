/**
 * Shared setup for broker tests: a broker on free loopback ports with TLS from the dev CA (trusted in-process),
 * a JWT issuer made of a jose key pair (what the local identity platform will be), RBAC assignments tests can change,
 * and real @azure/service-bus clients over both the TokenCredential (TLS) and connection-string (plain TCP) routes.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import type { AccessToken, TokenCredential } from "@azure/core-auth";
import { ServiceBusClient, type ServiceBusClientOptions } from "@azure/service-bus";
import { SignJWT, exportJWK, generateKeyPair, jwtVerify } from "jose";

import {
  type Broker,
  type BrokerAuth,
  type BrokerOptions,
  EMULATOR_DEFAULT_SAS_KEY,
  type Right,
  startBroker,
} from "../../broker/index.ts";
import { ensureDevCa, trustDevCaInProcess } from "../../dev-ca.ts";

export const SERVICE_BUS_AUDIENCE = "https://servicebus.azure.net/";
const ISSUER = "https://login.keyless.local/test-tenant/v2.0";

const keys = await generateKeyPair("RS256");
void exportJWK;

/** Role grants by principal, then entity path ("" = namespace scope). Tests mutate it at run time. */
export const grants = new Map<string, Map<string, Set<Right>>>();

export function grant(principalId: string, rights: Right[], entityPath = ""): void {
  const byPath = grants.get(principalId) ?? new Map<string, Set<Right>>();
  byPath.set(entityPath.toLowerCase(), new Set(rights));
  grants.set(principalId, byPath);
}

export const testAuth: BrokerAuth = {
  async verifyJwt(token) {
    const { payload } = await jwtVerify(token, keys.publicKey, {
      audience: SERVICE_BUS_AUDIENCE,
      issuer: ISSUER,
    });
    if (typeof payload.oid !== "string" || typeof payload.exp !== "number")
      throw new Error("the token lacks oid or exp");
    return { principalId: payload.oid, expiresAtMs: payload.exp * 1000 };
  },
  rightsOf(principalId, entityPath) {
    const out = new Set<Right>();
    const path = entityPath.toLowerCase();
    for (const [scope, rights] of grants.get(principalId) ?? []) {
      if (scope === "" || scope === path || path.startsWith(`${scope}/`)) for (const r of rights) out.add(r);
    }
    return out;
  },
  sasKeys: [EMULATOR_DEFAULT_SAS_KEY],
};

/** Signs tokens like the local identity platform: RS256, aud = Service Bus, oid = principal. */
export async function signToken(principalId: string, lifetimeSeconds: number): Promise<AccessToken> {
  const now = Math.floor(Date.now() / 1000);
  const exp = now + lifetimeSeconds;
  const token = await new SignJWT({ oid: principalId, sub: principalId })
    .setProtectedHeader({ alg: "RS256", typ: "JWT" })
    .setIssuer(ISSUER)
    .setAudience(SERVICE_BUS_AUDIENCE)
    .setIssuedAt(Math.min(now, exp - 1))
    .setExpirationTime(exp)
    .sign(keys.privateKey);
  return { token, expiresOnTimestamp: exp * 1000 };
}

export interface TestCredential extends TokenCredential {
  readonly issued: number;
}

/** A TokenCredential for one principal. Tokens live an hour unless told otherwise (the SDK tight-loops under 2 min). */
export function credentialFor(principalId: string, lifetimeSeconds = 3600): TestCredential {
  let issued = 0;
  return {
    get issued() {
      return issued;
    },
    async getToken() {
      issued++;
      return signToken(principalId, lifetimeSeconds);
    },
  };
}

let caDir: string | undefined;
let tlsMaterial: Promise<{ key: string; cert: string }> | undefined;

/** The dev CA in a per-process temp dir, trusted in-process (no NODE_EXTRA_CA_CERTS, no child process). */
function devTls(): Promise<{ key: string; cert: string }> {
  tlsMaterial ??= (async () => {
    caDir = await mkdtemp(join(tmpdir(), "keyless-broker-test-ca-"));
    const ca = await ensureDevCa(caDir);
    trustDevCaInProcess(ca.caCertPem);
    return ca.serverCert(["localhost", "127.0.0.1", "::1"]);
  })();
  return tlsMaterial;
}

export async function removeTestCa(): Promise<void> {
  if (caDir) await rm(caDir, { recursive: true, force: true });
}

export interface QueueOptions {
  RequiresSession?: boolean;
  LockDuration?: string;
  MaxDeliveryCount?: number;
  DefaultMessageTimeToLive?: string;
  DeadLetteringOnMessageExpiration?: boolean;
  ForwardTo?: string;
  RequiresDuplicateDetection?: boolean;
  DuplicateDetectionHistoryTimeWindow?: string;
}

export function queue(name: string, props: QueueOptions = {}) {
  return { Name: name, Properties: { LockDuration: "PT5S", MaxDeliveryCount: 10, ...props } };
}

/** An emulator Config.json with the given queues and topics. */
export function emulatorConfig(queues: unknown[], topics: unknown[] = []) {
  return {
    UserConfig: {
      Namespaces: [{ Name: "sbemulatorns", Queues: queues, Topics: topics }],
      Logging: { Type: "Console" },
    },
  };
}

export async function startTestBroker(config: unknown, extra: Partial<BrokerOptions> = {}): Promise<Broker> {
  return startBroker({
    config,
    tls: await devTls(),
    tlsPort: 0,
    plainPort: 0,
    httpPort: 0,
    allowShortDurations: true,
    auth: testAuth,
    ...extra,
  });
}

const FAST = { retryOptions: { maxRetries: 0, timeoutInMs: 10_000 } } as const;

/** The production route: TLS + TokenCredential, namespace "localhost:PORT". */
export function tokenClient(broker: Broker, credential: TokenCredential): ServiceBusClient {
  return new ServiceBusClient(`localhost:${broker.tlsPort}`, credential, FAST);
}

/** The emulator route: plain TCP + the official emulator's connection string. */
export function connectionStringClient(
  broker: Broker,
  key = "SAS_KEY_VALUE",
  options: ServiceBusClientOptions = FAST,
): ServiceBusClient {
  return new ServiceBusClient(
    `Endpoint=sb://localhost:${broker.plainPort};SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=${key};UseDevelopmentEmulator=true;`,
    options,
  );
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` returns true or the time is up (then fails with `what`). */
export async function eventually(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await sleep(25);
  }
  throw new Error(`timed out waiting for: ${what}`);
}

export function entityStats(broker: Broker, name: string) {
  const e = broker.stats().entities.find((x) => x.name.toLowerCase() === name.toLowerCase());
  if (!e) throw new Error(`no entity ${name}`);
  return e;
}
