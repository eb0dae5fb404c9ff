import { readdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";

import type { Logger } from "pino";
import type { z } from "zod";

import type { ApiClient } from "./api-client.ts";

/** What a handler may know about the message it is handling. Never the SDK's message object. */
export interface MessageInfo {
  readonly messageId: string;
  readonly subject: string | undefined;
  /** Service Bus deliveries before this one (0 on the first delivery), as the JS SDK reports it. */
  readonly deliveryCount: number;
  readonly enqueuedTime: Date | undefined;
  readonly correlationId: string | undefined;
  readonly applicationProperties: Readonly<Record<string, unknown>>;
  /** The queue or topic/subscriptions/name it came from. */
  readonly entity: string;
  /** The session it belongs to (messages of one session are handled one at a time, in order); undefined without. */
  readonly sessionId: string | undefined;
}

/**
 * The session a message of a session entity (SERVICEBUS_SESSION_ENTITIES) belongs to. Its messages reach handlers
 * one at a time, in the order they were sent; the state is one JSON value per session kept by Service Bus, read and
 * written under the session's lock (so no other handler of the session runs meanwhile, on this or another replica).
 */
export interface HandlerSession {
  readonly id: string;
  /** The session's state as last set (JSON), or undefined when none was set. */
  getState(): Promise<unknown>;
  /** Replaces the session's state with `state` (JSON-serialisable); undefined removes it. */
  setState(state: unknown): Promise<void>;
}

/** The one argument a handler gets. */
export interface HandlerContext<Body> {
  /** The message body, parsed as JSON and validated by the handler's schema. */
  readonly body: Body;
  readonly message: MessageInfo;
  /** A client for the handler's own API only, carrying a token with the handler's roles. */
  readonly api: ApiClient;
  /** Aborted on handler timeout, lock loss and shutdown; pass it on to anything that waits. */
  readonly signal: AbortSignal;
  /** A logger bound to this message (id, subject, delivery count, attempt). */
  readonly log: Logger;
  /** 1 for the first attempt in this delivery. */
  readonly attempt: number;
  /** The message's session, for messages of a session entity; undefined for every other message. */
  readonly session: HandlerSession | undefined;
}

/** A handler: one kind of message, the API it calls, the roles it needs there, and what to do. */
export interface Handler<Schema extends z.ZodType = z.ZodType> {
  /** The message subject it serves (messages without a subject are matched on application property `type`). */
  readonly subject: string;
  /** The body's schema (zod): a message whose body does not match is dead-lettered as InvalidBody. */
  readonly schema: Schema;
  /** The name of the API it calls, as in API_<NAME>_BASE_URL (case-insensitive). */
  readonly api: string;
  /** App role values the token for that API must carry. */
  readonly roles: readonly string[];
  handle(ctx: HandlerContext<z.infer<Schema>>): Promise<void>;
}

/** Handlers keyed by the subject they serve; build one with defineHandlers. */
export type HandlerMap = Readonly<Record<string, Handler>>;

/** The map a worker takes, from a list of handlers; refuses two handlers for one subject. */
export function defineHandlers(list: readonly Handler[]): HandlerMap {
  const map: Record<string, Handler> = {};
  for (const handler of list) {
    if (map[handler.subject]) {
      throw new TypeError(
        `two handlers serve the subject "${handler.subject}": each subject has one handler`,
      );
    }
    map[handler.subject] = handler;
  }
  return Object.freeze(map);
}

/** Handlers made by defineHandler: how handlersIn tells a handler export from a helper a file also exports. */
const defined = new WeakSet<Handler>();

/** Declares a handler with its body type inferred from its schema. */
export function defineHandler<Schema extends z.ZodType>(handler: Handler<Schema>): Handler<Schema> {
  defined.add(handler as Handler);
  return handler;
}

/**
 * The map of every handler in a folder: each `*.ts` file in it (not index.ts, not tests, not subfolders) exports one
 * or more handlers made with defineHandler, so adding a handler is adding a file. A file that exports none is an
 * error that names it (a handler written without defineHandler would otherwise be skipped without a word).
 */
export async function handlersIn(folder: URL): Promise<HandlerMap> {
  const files = (await readdir(folder, { withFileTypes: true }))
    .filter(
      (f) => f.isFile() && f.name.endsWith(".ts") && f.name !== "index.ts" && !f.name.endsWith(".test.ts"),
    )
    .map((f) => f.name)
    .sort();
  const list: Handler[] = [];
  for (const name of files) {
    const exports = Object.values((await import(new URL(name, folder).href)) as Record<string, unknown>);
    const found = exports.filter((value): value is Handler => defined.has(value as Handler));
    if (found.length === 0) {
      throw new TypeError(
        `${fileURLToPath(new URL(name, folder))} exports no handler: export one made with defineHandler ` +
          `(helpers shared by handlers go in a subfolder)`,
      );
    }
    list.push(...found);
  }
  return defineHandlers(list);
}
