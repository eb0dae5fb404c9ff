/**
 * The worker's public surface: what handlers, entry points (keyless run, keyless dev), tests and benchmarks use.
 * Anything not exported here is the worker's own business and may change. Handlers need only the first block.
 * A handler's own tests use `runHandler` from ./testing.ts.
 */

// Writing handlers.
export { defineHandler, defineHandlers, handlersIn } from "./handler.ts";
export type { Handler, HandlerContext, HandlerMap, MessageInfo } from "./handler.ts";
export type { ApiClient, ApiRequestOptions, ApiResponse } from "./api-client.ts";
export { HandlerRejectedError, PermanentError, TransientError } from "./errors.ts";
export type { DeadLetterReason } from "./errors.ts";

// Running a worker.
export { createWorkerFromEnv } from "./start.ts";
export type { WorkerFromEnvOptions } from "./start.ts";
export { createWorker } from "./worker.ts";
export type { WorkerDeps, WorkerHandle } from "./worker.ts";
export { main } from "./main.ts";
export { ConfigError } from "./errors.ts";
export { loadConfig, TUNING, VARIABLES, isDocumentedVariable } from "./config.ts";
export type { ApiConfig, EntityRef, WorkerConfig } from "./config.ts";

// Watching it.
export type { WorkerEvent, WorkerEventOf, WorkerEventType } from "./events.ts";
export type { OutcomeEvent } from "./dispatcher.ts";
export type { Outcome } from "./outcome.ts";
export type { SettlePath } from "./settle.ts";
export type { WorkerState } from "./lifecycle.ts";
export type { PreflightRow } from "./preflight.ts";
