/**
 * startBroker: validates the emulator Config.json, builds the namespace, and opens the TLS (TokenCredential),
 * plain TCP (connection strings with UseDevelopmentEmulator=true) and inspection listeners. State lives in memory
 * only and is gone after close(), like the official emulator's.
 */
import pino from "pino";
import type { Logger } from "pino";

import { AmqpServer } from "./amqp-server.ts";
import type { BrokerAuth } from "./auth-types.ts";
import { validateEmulatorConfig } from "./config.ts";
import { BrokerConfigError } from "./errors.ts";
import { type InspectionServer, startInspectionHttp } from "./inspection-http.ts";
import { type BrokerStats, Namespace } from "./namespace.ts";

export interface BrokerOptions {
  /** The parsed official-emulator Config.json object (validated here; BrokerConfigError lists every problem with its JSON path). */
  config: unknown;
  /** Default "127.0.0.1". */
  host?: string;
  /** Default 5671; 0 = pick a free port; false = off. */
  tlsPort?: number | false;
  /** Default 5672; 0 = free port; false = off. */
  plainPort?: number | false;
  /** Inspection endpoint, default 5300; 0 = free; false = off. */
  httpPort?: number | false;
  /** PEM; required when tlsPort !== false. */
  tls?: { key: string; cert: string };
  auth: BrokerAuth;
  /** Default: silent. */
  logger?: Logger;
  /** Let LockDuration / DefaultMessageTimeToLive go down to 100 ms (tests). Default false: the emulator's ranges. */
  allowShortDurations?: boolean;
  /** Largest message (or batch) accepted, advertised as the link's max-message-size. Default 262144 (256 KB, as the emulator). */
  maxMessageSizeBytes?: number;
  /** Per-entity storage cap in bytes; beyond it sends fail with QuotaExceeded. Default 100 MB (the emulator's). */
  maxEntitySizeBytes?: number;
}

export interface Broker {
  readonly namespace: string;
  readonly tlsPort: number | undefined;
  readonly plainPort: number | undefined;
  readonly httpPort: number | undefined;
  /** Per-entity counts, the same JSON the HTTP endpoint serves. */
  stats(): BrokerStats;
  /**
   * Detaches, with `amqp:link:detach-forced`, every receiver link on `entity` (a queue, or topic/subscriptions/name);
   * their locks stay. Returns how many were detached. For tests of link recycling.
   */
  detachReceivers(entity: string): number;
  /** Closes listeners and connections; idempotent. */
  close(): Promise<void>;
}

export async function startBroker(options: BrokerOptions): Promise<Broker> {
  const topology = validateEmulatorConfig(options.config, {
    allowShortDurations: options.allowShortDurations ?? false,
  });
  const host = options.host ?? "127.0.0.1";
  const tlsPortOption = options.tlsPort ?? 5671;
  if (tlsPortOption !== false && options.tls === undefined) {
    throw new BrokerConfigError([
      "options.tls: a PEM key and certificate are required when tlsPort is not false (see ensureDevCa)",
    ]);
  }
  const logger = options.logger ?? pino({ level: "silent" });
  const namespace = new Namespace(topology, {
    ...(options.maxEntitySizeBytes ? { maxEntitySizeBytes: options.maxEntitySizeBytes } : {}),
  });
  const amqp = new AmqpServer({
    namespace,
    auth: options.auth,
    logger,
    maxMessageSizeBytes: options.maxMessageSizeBytes ?? 262144,
  });
  let inspection: InspectionServer | undefined;
  let tlsPort: number | undefined;
  let plainPort: number | undefined;

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await Promise.all([amqp.close(), inspection?.close()]);
      namespace.close();
      logger.info("broker closed");
    })());

  try {
    if (tlsPortOption !== false) tlsPort = await amqp.listen(tlsPortOption, host, options.tls);
    const plain = options.plainPort ?? 5672;
    if (plain !== false) plainPort = await amqp.listen(plain, host);
    const http = options.httpPort ?? 5300;
    if (http !== false) inspection = await startInspectionHttp(() => namespace.stats(), http, host);
  } catch (error) {
    await close();
    throw error;
  }
  logger.info(
    { namespace: namespace.name, host, tlsPort, plainPort, httpPort: inspection?.port },
    "broker listening",
  );
  return {
    namespace: namespace.name,
    tlsPort,
    plainPort,
    httpPort: inspection?.port,
    stats: () => namespace.stats(),
    detachReceivers: (entity) =>
      amqp.detachConsumersOf((consumer) => consumer.store.path.toLowerCase() === entity.toLowerCase()),
    close,
  };
}
