import { ordersFulfil } from "../src/handlers/orders-fulfil.ts";
import { createLogger } from "../src/telemetry/logger.ts";
import { defineHandler, defineHandlers } from "../src/worker/handler.ts";
import { createWorkerFromEnv } from "../src/worker/start.ts";

/**
 * The production worker with the sample handler (or, for `noop`, the same handler doing nothing after its body is
 * validated), reporting each completion to the benchmark and the moment it is first ready.
 */
export async function main(
  record: (sentAt: unknown, messageId: string) => void,
  kind: "noop" | "api",
): Promise<{ stop: () => Promise<void>; ready: Promise<number> }> {
  const sentAt = new Map<string, unknown>();
  const fulfil = ordersFulfil;
  const { worker } = createWorkerFromEnv({
    env: process.env,
    handlers: defineHandlers([
      defineHandler({
        ...fulfil,
        async handle(ctx) {
          sentAt.set(ctx.message.messageId, ctx.message.applicationProperties.sentAt);
          if (kind === "api") await fulfil.handle(ctx);
        },
      }),
    ]),
    logger: createLogger({ level: "warn" }),
  });
  worker.on("delivery.settled", (event) => {
    if (event.outcome.kind === "complete") record(sentAt.get(event.messageId), event.messageId);
    sentAt.delete(event.messageId);
  });
  const ready = (async () => {
    while (!worker.readiness().ok) await new Promise((r) => setTimeout(r, 5));
    return performance.now(); // ms since this process started
  })();
  await worker.started;
  return { stop: () => worker.stop(), ready };
}
