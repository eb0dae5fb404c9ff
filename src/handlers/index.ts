import { handlersIn } from "../worker/index.ts";

/** Every handler this worker ships: each file in this folder, keyed by the subject it serves. Add a file to add one. */
export const handlers = await handlersIn(new URL(".", import.meta.url));
