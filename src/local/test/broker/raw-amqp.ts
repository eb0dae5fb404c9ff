/**
 * A bare rhea client for wire-level tests: what Microsoft's other clients put on the wire (typed values, requests
 * without reply-to, settlement modes, session filters) without the JS SDK's tolerance in between. The AMQP type of a
 * received value is read from the bytes the message arrived in.
 */
import { createHmac } from "node:crypto";

import rhea from "rhea";
import type { Connection, Message, Receiver, Sender } from "rhea";

import { readSections, SECTION, TypedMap, type Typed } from "../../broker/amqp-sections.ts";
import { bytesOf } from "../../broker/rhea-internals.ts";

export const { types } = rhea;

/** A SAS token exactly as core-amqp builds one. */
export function sasToken(
  audience: string,
  key = "SAS_KEY_VALUE",
  keyName = "RootManageSharedAccessKey",
): string {
  const sr = encodeURIComponent(audience);
  const se = Math.floor(Date.now() / 1000) + 3600;
  const sig = encodeURIComponent(createHmac("sha256", key).update(`${sr}\n${se}`).digest("base64"));
  return `SharedAccessSignature sr=${sr}&sig=${sig}&se=${se}&skn=${keyName}`;
}

/** A connection over SASL ANONYMOUS (the JS SDK's), or MSSBCBS (Service Bus's own, the only one .NET's client offers). */
export async function connect(
  port: number,
  sasl: "ANONYMOUS" | "MSSBCBS" = "ANONYMOUS",
): Promise<Connection> {
  const connection = rhea.create_container().connect({
    host: "127.0.0.1",
    port,
    reconnect: false,
    ...(sasl === "MSSBCBS"
      ? {
          sasl_mechanisms: {
            MSSBCBS: { start: (done: (e: unknown, r: Buffer) => void) => done(undefined, Buffer.alloc(0)) },
          },
        }
      : { username: "anonymous" }),
  } as never);
  await new Promise((resolve, reject) => {
    connection.once("connection_open", resolve);
    connection.once("connection_error", reject);
    connection.once("disconnected", reject);
  });
  return connection;
}

export const opened = (link: Sender | Receiver): Promise<void> =>
  new Promise((resolve, reject) => {
    link.once(link.is_sender() ? "sendable" : "receiver_open", () => resolve());
    link.once(link.is_sender() ? "sender_close" : "receiver_close", () =>
      reject(new Error(`link closed: ${JSON.stringify(link.error)}`)),
    );
  });

/** The error a link was closed with, or a failure if it opened instead. */
export const refused = (
  link: Sender | Receiver,
  timeoutMs = 5000,
): Promise<{ condition: string; description: string }> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`link was not refused within ${timeoutMs} ms`)),
      timeoutMs,
    );
    link.once(link.is_sender() ? "sender_close" : "receiver_close", () => {
      clearTimeout(timer);
      resolve(link.error as unknown as { condition: string; description: string });
    });
  });

export interface RequestResponse {
  readonly sender: Sender;
  readonly receiver: Receiver;
  /** Sends a request and resolves with the reply whose correlation-id is its message-id (the first reply when it has none). */
  request(message: Message, timeoutMs?: number): Promise<Message>;
}

/**
 * Attaches a request/response pair to a node. `replyTo: "name"` is how the JS SDK's $cbs pair looks, `"target"` its
 * $management pair and .NET's, `"none"` pyamqp's (both links named after the node, requests without reply-to).
 */
export async function requestResponse(
  connection: Connection,
  node: string,
  replyTo: "name" | "target" | "none",
): Promise<RequestResponse> {
  const replyName = `reply-${Math.random().toString(16).slice(2)}`;
  const receiver = connection.open_receiver({
    name: replyName,
    source: { address: node },
    target: replyTo === "none" ? { address: node } : replyTo === "target" ? { address: replyName } : {},
  } as never);
  const sender = connection.open_sender({ target: { address: node }, source: { address: node } } as never);
  await Promise.all([opened(receiver), opened(sender)]);
  const waiting = new Map<string, (m: Message) => void>();
  receiver.on("message", (ctx) => {
    const key = idKey(ctx.message!.correlation_id);
    const resolve = waiting.get(key) ?? waiting.get("");
    waiting.delete(waiting.has(key) ? key : "");
    resolve?.(ctx.message!);
  });
  return {
    sender,
    receiver,
    request: (message, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const key = idKey(message.message_id);
        const timer = setTimeout(
          () => reject(new Error(`no reply to ${key} within ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiting.set(key, (m) => {
          clearTimeout(timer);
          resolve(m);
        });
        sender.send({ ...(replyTo === "none" ? {} : { reply_to: replyName }), ...message });
      }),
  };
}

function idKey(id: unknown): string {
  const value = typeof id === "object" && id !== null && "type" in id ? (id as Typed).value : id;
  if (value === undefined || value === null) return "";
  return Buffer.isBuffer(value) ? value.toString("hex") : String(value);
}

/** A put-token request as core-amqp and pyamqp send it. */
export function putTokenRequest(
  audience: string,
  token: string,
  id: unknown = `put-${Math.random()}`,
): Message {
  return {
    message_id: id as string,
    application_properties: {
      operation: "put-token",
      name: audience,
      type: token.startsWith("SharedAccessSignature") ? "servicebus.windows.net:sastoken" : "jwt",
    },
    body: token,
  };
}

/** A connection with a SAS put-token done for `entity` ("" for the whole namespace), on the JS SDK's $cbs link shape. */
export async function authorizedConnection(port: number, entity: string): Promise<Connection> {
  const connection = await connect(port);
  const cbs = await requestResponse(connection, "$cbs", "name");
  const audience = `sb://localhost:${port}/${entity}`;
  const reply = await cbs.request(putTokenRequest(audience, sasToken(audience)));
  if (reply.application_properties?.["status-code"] !== 202) throw new Error("put-token failed");
  return connection;
}

/** The sections a received message arrived with, as typed values. */
export function receivedSections(message: Message) {
  return readSections(bytesOf(message));
}

/**
 * The AMQP type (int, uint, ulong, boolean, string, …) of a value as rhea read it; rhea names encodings (SmallInt and
 * Int are both int, True and Boolean both boolean).
 */
export function amqpType(value: Typed | undefined): string | undefined {
  const name = value?.type.name;
  if (name === undefined) return undefined;
  const family: Record<string, string> = {
    True: "boolean",
    False: "boolean",
    Uint0: "uint",
    Ulong0: "ulong",
    List0: "list",
    CharUTF32: "char",
  };
  if (family[name]) return family[name];
  const base = name.replace(/^Small/, "").replace(/^(Vbin|Str|Sym|List|Map|Array)(8|32)$/, "$1");
  return { Vbin: "binary", Str: "string", Sym: "symbol" }[base] ?? base.toLowerCase();
}

/** The AMQP type of a map entry in a received message's section. */
export function wireType(
  message: Message,
  section: "applicationProperties" | "messageAnnotations",
  key: string,
) {
  const s = receivedSections(message).find((x) => x.code === SECTION[section]);
  return amqpType(TypedMap.of(s?.typed).get(key));
}

/** The AMQP type of a field of a received message's properties section (0 message-id, 5 correlation-id). */
export function propertyWireType(message: Message, index: number): string | undefined {
  const s = receivedSections(message).find((x) => x.code === SECTION.properties);
  return amqpType((s?.typed.value as Typed[] | undefined)?.[index]);
}
