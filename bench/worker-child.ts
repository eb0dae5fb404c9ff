import { ordersFulfil } from "../src/handlers/orders-fulfil.ts";
import { createLogger } from "../src/telemetry/logger.ts";
import { defineHandler, defineHandlers } from "../src/worker/handler.ts";
import { createWorkerFromEnv } from "../src/worker/start.ts";

/** The production worker with the sample handler, reporting each completion to the benchmark. */
export async function main(record: (sentAt: unknown) => void): Promise<() => Promise<void>> {
  const sentAt = new Map<string, unknown>();
  const fulfil = ordersFulfil;
  const { worker } = createWorkerFromEnv({
    env: process.env,
    handlers: defineHandlers([
      defineHandler({
        ...fulfil,
        async handle(ctx) {
          sentAt.set(ctx.message.messageId, ctx.message.applicationProperties.sentAt);
          await fulfil.handle(ctx);
        },
      }),
    ]),
    logger: createLogger({ level: "warn" }),
  });
  worker.on("delivery.settled", (event) => {
    if (event.outcome.kind === "complete") record(sentAt.get(event.messageId));
    sentAt.delete(event.messageId);
  });
  await worker.started;
  return () => worker.stop();
}
