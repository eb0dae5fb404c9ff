/**
 * Fills Node's compile cache (NODE_COMPILE_CACHE; bin/keyless sets it) with everything `keyless run` loads, the
 * telemetry SDK included, so that even a container's first start strips no TypeScript and compiles from cache.
 * The worker image runs it at build time as the user the worker runs as (the cache files are that user's only).
 * Node keeps a cache per set of V8 flags, so it runs itself again under bin/node-flags, as bin/keyless runs Node.
 *
 *   NODE_COMPILE_CACHE=/app/.node-compile-cache node bin/fill-compile-cache.ts
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { flushCompileCache, getCompileCacheDir } from "node:module";

const flags = readFileSync(new URL("node-flags", import.meta.url), "utf8")
  .split(/\s+/)
  .filter(Boolean);
if (flags.some((flag) => !process.execArgv.includes(flag))) {
  const again = spawnSync(process.execPath, [...flags, ...process.execArgv, import.meta.filename], {
    stdio: "inherit",
  });
  process.exit(again.status ?? 1);
}
const dir = getCompileCacheDir();
if (!dir) {
  process.stderr.write("fill-compile-cache: set NODE_COMPILE_CACHE to the folder to fill\n");
  process.exit(64);
}
await import("../src/cli/main.ts");
await import("../src/cli/run.ts");
await import("../src/worker/index.ts");
await import("../src/handlers/index.ts");
const { loadTelemetrySdk } = await import("../src/telemetry/start.ts");
await loadTelemetrySdk();
flushCompileCache();
const entries = readdirSync(dir, { recursive: true }).length;
process.stdout.write(`fill-compile-cache: ${entries} entries in ${dir}\n`);
