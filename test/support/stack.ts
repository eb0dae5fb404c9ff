import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { ServiceBusClient, type ServiceBusMessage, type ServiceBusReceivedMessage } from "@azure/service-bus";
import type { DestinationStream, Logger } from "pino";

import { trustDevCaInProcess } from "../../src/local/dev-ca.ts";
import { type LocalStack, SAMPLE_TOPOLOGY_PATH, startLocalStack } from "../../src/local/stack.ts";
import { SAMPLE_TENANT_PATH } from "../../src/local/tenant/index.ts";
import { createLogger } from "../../src/telemetry/logger.ts";

export interface TestStack extends LocalStack {
  /** Environment for a worker against this stack, with fast test timings; `overrides` win. */
  workerEnv(overrides?: Record<string, string>): Record<string, string>;
  /** A client on the emulator-style connection string (plain AMQP, SAS): the test's own producer and inspector. */
  readonly admin: ServiceBusClient;
  send(entity: string, messages: ServiceBusMessage | ServiceBusMessage[]): Promise<void>;
  /** Receives (and completes) everything in the entity's dead-letter queue. */
  drainDeadLetters(
    entity: string,
    expected: number,
    timeoutMs?: number,
  ): Promise<ServiceBusReceivedMessage[]>;
  /** Waits until the broker's counts for an entity satisfy `predicate`. */
  waitForCounts(
    entity: string,
    predicate: (c: EntityCounts) => boolean,
    timeoutMs?: number,
  ): Promise<EntityCounts>;
}

export interface EntityCounts {
  active: number;
  locked: number;
  /** The most locked at once since the entity was made, counted by the broker at each lock. */
  mostLocked: number;
  scheduled: number;
  deferred: number;
  deadLettered: number;
}

export const readJson = async (path: string): Promise<Record<string, unknown>> =>
  JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;

/** The sample tenant and topology as objects, for tests that change them. */
export const sampleTenant = () => readJson(SAMPLE_TENANT_PATH);
export const sampleTopology = () => readJson(SAMPLE_TOPOLOGY_PATH);

/**
 * Starts the whole local stack on free loopback ports for one test file, trusts its development CA in this process
 * and points MSAL's managed-identity source at it. MSAL fixes that source once per process, so a test file uses one
 * stack (node's runner gives each file its own process).
 */
export async function startTestStack(
  options: { tenant?: unknown; topology?: unknown; logger?: Logger } = {},
): Promise<TestStack> {
  const caDir = await mkdtemp(join(tmpdir(), "keyless-ca-"));
  const stack = await startLocalStack({
    ports: { identity: 0, api: 0, amqps: 0, amqp: 0, brokerHttp: 0 },
    caDir,
    allowShortDurations: true,
    ...(options.tenant !== undefined ? { tenant: options.tenant } : {}),
    ...(options.topology !== undefined ? { topology: options.topology } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  trustDevCaInProcess(stack.caCertPem);
  const env = stack.env();
  process.env.IDENTITY_ENDPOINT = env.IDENTITY_ENDPOINT;
  process.env.IDENTITY_HEADER = env.IDENTITY_HEADER;
  const admin = new ServiceBusClient(env.SERVICEBUS_CONNECTION_STRING!, {
    retryOptions: { maxRetries: 1, timeoutInMs: 10_000 },
  });

  const counts = async (entity: string): Promise<EntityCounts> => {
    const stats = stack.broker.stats() as unknown as { entities: Array<EntityCounts & { name: string }> };
    const found = stats.entities.find((e) => e.name.toLowerCase() === entity.toLowerCase());
    if (!found) throw new Error(`no entity ${entity} in broker stats`);
    return found;
  };

  return {
    ...stack,
    admin,
    workerEnv: (overrides = {}) => ({
      ...env,
      WORKER_HEALTH_PORT: "0",
      WORKER_BACKOFF_BASE_MS: "20",
      WORKER_BACKOFF_MAX_MS: "500",
      WORKER_API_TIMEOUT_MS: "5000",
      LOG_LEVEL: "warn",
      ...overrides,
    }),
    // A fresh client per call: a producer elsewhere, unaffected by what the worker's connection goes through.
    send: async (entity, messages) => {
      const client = new ServiceBusClient(env.SERVICEBUS_CONNECTION_STRING!, {
        retryOptions: { maxRetries: 1 },
      });
      try {
        await client.createSender(entity).sendMessages(messages);
      } finally {
        await client.close();
      }
    },
    drainDeadLetters: async (entity, expected, timeoutMs = 10_000) => {
      const receiver = admin.createReceiver(entity, { subQueueType: "deadLetter" });
      const got: ServiceBusReceivedMessage[] = [];
      const deadline = Date.now() + timeoutMs;
      while (got.length < expected && Date.now() < deadline) {
        const batch = await receiver.receiveMessages(expected - got.length, { maxWaitTimeInMs: 500 });
        for (const m of batch) {
          await receiver.completeMessage(m);
          got.push(m);
        }
      }
      await receiver.close();
      return got;
    },
    waitForCounts: async (entity, predicate, timeoutMs = 15_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const c = await counts(entity);
        if (predicate(c)) return c;
        if (Date.now() > deadline)
          throw new Error(`broker counts for ${entity} never matched: ${JSON.stringify(c)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    close: async () => {
      await admin.close().catch(() => undefined);
      await stack.close();
      await rm(caDir, { recursive: true, force: true });
    },
  };
}

/** A logger that keeps every line in memory, for asserting on what the worker logged. */
export function memoryLogger(level = "info"): {
  logger: Logger;
  lines: () => Array<Record<string, unknown>>;
  text: () => string;
} {
  const chunks: string[] = [];
  const destination = { write: (chunk: string) => void chunks.push(chunk) } as DestinationStream;
  const logger = createLogger({ level, destination });
  return {
    logger,
    lines: () =>
      chunks
        .flatMap((c) => c.split("\n").filter(Boolean))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    text: () => chunks.join(""),
  };
}
