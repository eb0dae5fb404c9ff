import { ordersFulfil } from "../src/handlers/orders-fulfil.ts";
import { chooseCredential, createRoleTokenProvider } from "../src/identity/index.ts";
import { createLogger } from "../src/telemetry/logger.ts";
import { loadConfig } from "../src/worker/config.ts";
import { defineHandler } from "../src/worker/handler.ts";
import { createWorker } from "../src/worker/worker.ts";

/** The production worker with the sample handlers, reporting each completion to the benchmark. */
export async function main(record: (sentAt: unknown) => void): Promise<() => Promise<void>> {
  const config = loadConfig(process.env);
  const chosen = chooseCredential(process.env);
  const sentAt = new Map<string, unknown>();
  const fulfil = ordersFulfil;
  const worker = createWorker(config, {
    handlers: {
      "orders.fulfil": defineHandler({
        ...fulfil,
        async handle(ctx) {
          sentAt.set(ctx.message.messageId, ctx.message.applicationProperties.sentAt);
          await fulfil.handle(ctx);
        },
      }),
    },
    tokens: createRoleTokenProvider({ credential: chosen.credential }),
    credential: chosen.credential,
    logger: createLogger({ level: "warn" }),
    onOutcome: (event) => {
      if (event.outcome.kind === "complete") record(sentAt.get(event.messageId));
      sentAt.delete(event.messageId);
    },
  });
  await worker.started;
  return () => worker.stop();
}
