import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { withSpan } from "../../src/telemetry/span.ts";
import { startTelemetry } from "../../src/telemetry/start.ts";
import { closedPort } from "../support/closed-port.ts";
import { memoryLogger } from "../support/stack.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// A file of its own: OpenTelemetry's providers, error handler and diag logger are process-wide.
describe("telemetry that cannot be exported", () => {
  it("says once, naming the collector and the cause, that spans are not reaching it, however many batches fail, and once that spans were dropped", async () => {
    process.env.OTEL_EXPORTER_OTLP_TIMEOUT = "500"; // the exporter reads this itself: a failed export gives up sooner
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    const log = memoryLogger("info");
    const telemetry = await startTelemetry(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        OTEL_METRICS_EXPORTER: "none",
        OTEL_BSP_SCHEDULE_DELAY: "50", // a batch every 50 ms instead of every 5 s
        OTEL_BSP_MAX_QUEUE_SIZE: "4",
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "4",
      },
      { logger: log.logger },
    );
    for (let i = 0; i < 20; i++) {
      await withSpan(`process export-problem-${i}`, {}, async () => undefined);
      await sleep(75); // each span its own batch, each batch its own failed export
    }
    await sleep(1_000);
    const problems = log.lines().filter((line) => line.level === "warn");
    assert.equal(problems.length, 1, log.text());

    // A burst larger than the queue of 4: the spans beyond it are dropped, said (once) when the next one is queued.
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => withSpan(`process burst-${i}`, {}, async () => undefined)),
    );
    await sleep(1_000);
    for (let i = 0; i < 3; i++) {
      await withSpan(`process after-burst-${i}`, {}, async () => undefined);
      await sleep(200);
    }
    const dropped = log
      .lines()
      .filter((line) => line.level === "warn" && /spans because maxQueueSize reached/.test(String(line.msg)));
    assert.equal(dropped.length, 1, log.text());
    assert.match(
      String(dropped[0]!.msg),
      /^OpenTelemetry to .*: Dropped \d+ spans because maxQueueSize reached \(said once\)$/,
    );
    assert.match(
      String(problems[0]!.msg),
      new RegExp(
        `^telemetry export to ${endpoint.replace(/\./g, "\\.")} \\(http/protobuf\\) failed: .*ECONNREFUSED.*said once`,
      ),
    );
    assert.doesNotMatch(log.text(), /\n\s+at /, "no stack trace");
    await telemetry.shutdown();
  });
});
