import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import type { IdentityPlatform } from "../../src/local/identity/index.ts";
import {
  capturingLogger,
  GRAPH_SCOPE,
  ORDERS_SCOPE,
  startPlatform,
  WORKER,
} from "../../src/local/test/support/platform.ts";

// The Azure SDK reads AZURE_LOG_LEVEL once, when @azure/logger loads: set it before the dynamic imports below so its
// most verbose output (MSAL's included) lands in the same captured log as everything the worker would log.
process.env.AZURE_LOG_LEVEL = "verbose";
const { ManagedIdentityCredential } = await import("@azure/identity");
const { createRoleTokenProvider } = await import("../../src/identity/index.ts");
const { createLogger } = await import("../../src/telemetry/logger.ts");

const JWT = /eyJ[\w-]+\.[\w-]+/;
const orders = { name: "orders", scope: ORDERS_SCOPE };

describe("tokens never reach the logs", () => {
  let platform: IdentityPlatform;
  const { logger, text } = capturingLogger();
  const writeStderr = process.stderr.write.bind(process.stderr);
  before(async () => {
    platform = await startPlatform();
    // The SDK's logger writes to stderr; route it into the captured pino log.
    process.stderr.write = ((chunk: string | Uint8Array) => {
      logger.debug({ azureSdk: String(chunk) }, "azure sdk");
      return true;
    }) as typeof process.stderr.write;
  });
  after(async () => {
    await platform.close();
    // Closing the endpoint fails the request the hang left open; let the SDK log that here, not on the console.
    await new Promise((resolve) => setTimeout(resolve, 100));
    process.stderr.write = writeStderr;
  });

  it("while the provider gets, checks, fails and times out, with the SDK logging verbosely", async () => {
    const provider = createRoleTokenProvider({
      credential: new ManagedIdentityCredential({
        clientId: WORKER.clientId,
        retryOptions: { maxRetries: 0 },
      }),
      timeoutMs: 200,
    });
    const seen: string[] = [];

    const granted = await provider.getToken(orders, ["Orders.Read"]);
    seen.push(granted.token);
    logger.info({ claims: granted.claims, fromCache: granted.fromCache }, "token for orders");
    logger.info({ state: provider.describe(orders) }, "token state");

    for (const failing of [
      provider.getToken(orders, ["Orders.Refund"]),
      provider.getToken({ name: "billing", scope: "api://billing-not-registered/.default" }, []),
    ]) {
      await failing.catch((error: unknown) => logger.warn({ err: error }, "token failure"));
    }
    platform.setFault({ kind: "hang" });
    try {
      await provider.getToken({ name: "graph", scope: GRAPH_SCOPE }, []).catch((error: unknown) => {
        logger.error({ err: error }, "token timeout");
      });
    } finally {
      platform.setFault({ kind: "none" });
    }
    seen.push((await provider.getToken({ name: "graph", scope: GRAPH_SCOPE }, [])).token);

    const log = text();
    // The capture works: the SDK's own lines, our named errors and their causes are all in it.
    assert.match(log, /ManagedIdentityCredential/);
    assert.match(log, /MissingAppRoleError/);
    assert.match(log, /AADSTS500011/);
    assert.match(log, /within 200 ms/);
    for (const token of seen) assert.ok(!log.includes(token), "a token we were given appears in the log");
    assert.doesNotMatch(log, JWT);
  });

  it("and the worker's logger redacts one a careless caller hands it", async () => {
    const chunks: string[] = [];
    const workerLog = createLogger({
      level: "info",
      destination: { write: (c: string) => void chunks.push(c) },
    });
    const { token } = await createRoleTokenProvider({
      credential: new ManagedIdentityCredential({ clientId: WORKER.clientId }),
    }).getToken(orders, []);
    workerLog.info({ token, headers: { authorization: `Bearer ${token}` } }, "careless caller");
    const log = chunks.join("");
    assert.match(log, /careless caller/);
    assert.ok(!log.includes(token));
    assert.doesNotMatch(log, JWT);
  });
});
