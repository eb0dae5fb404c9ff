/**
 * `$cbs` and `<entity>/$management` are request/response nodes (AMQP Management, Service Bus CBS): the client attaches
 * a sender to the node and a receiver from it, and each request is answered on that receiver. What Microsoft's clients
 * rely on, and Azure does:
 * - the answer goes to the link named by `reply-to` (the link's name or its target address); a request without
 *   `reply-to` (pyamqp sends only `message-id`) is answered on the client's receiver from the same node;
 * - `correlation-id` is the request's `message-id` with its AMQP type (uuid stays uuid, ulong stays ulong);
 * - status codes are AMQP int (Java casts them to Integer; a uint would crash it).
 */
import rhea from "rhea";
import type { Message, Receiver, Sender } from "rhea";

import { audiencePath } from "./addresses.ts";
import { readSections, SECTION } from "./amqp-sections.ts";
import { bytesOf, internals } from "./rhea-internals.ts";

const { types } = rhea;

interface ReplyLink {
  readonly sender: Sender;
  /** the node it is attached from, as audiencePath spells it ("$cbs", "orders/$management") */
  readonly node: string;
  /** the names a reply-to may use for it: its link name and its target address */
  readonly names: ReadonlySet<string>;
}

/** A connection's reply links, to find the one a request is answered on. */
export class ReplyLinks {
  readonly #links = new Map<Sender, ReplyLink>();

  add(sender: Sender, nodeAddress: string, targetAddress: string | undefined): void {
    const names = new Set([sender.name, ...(targetAddress ? [targetAddress] : [])]);
    this.#links.set(sender, { sender, node: audiencePath(nodeAddress), names });
  }

  delete(sender: Sender): void {
    this.#links.delete(sender);
  }

  has(link: Sender | Receiver): boolean {
    return this.#links.has(link as Sender);
  }

  /** The link named by the request's reply-to; without one, the client's receiver from the same node, on the request's session first. */
  for(request: Message, requestLink: Receiver, nodeAddress: string): Sender | undefined {
    const open = [...this.#links.values()].filter((l) => l.sender.is_open());
    if (typeof request.reply_to === "string" && request.reply_to !== "") {
      return open.find((l) => l.names.has(request.reply_to!))?.sender;
    }
    const node = audiencePath(nodeAddress);
    const candidates = open.filter((l) => l.node === node);
    const session = (link: Sender | Receiver) => (link as unknown as { session: unknown }).session;
    return (candidates.find((l) => session(l.sender) === session(requestLink)) ?? candidates[0])?.sender;
  }
}

/** Status codes as AMQP int, whatever rhea would choose for a positive number. */
export const statusCode = (code: number): unknown => types.wrap_int(code);

/**
 * Sends one reply. A client that never settles its replies fills its session's 2048 delivery slots; that client's
 * reply link is then closed with a clear error instead of overflowing rhea's buffer.
 */
export function sendReply(
  sender: Sender,
  request: Message,
  applicationProperties: Record<string, unknown>,
  body: unknown = null,
): void {
  if (internals(sender).session.outgoing.available() === 0) {
    sender.close({
      condition: "amqp:resource-limit-exceeded",
      description:
        "The client has not settled the 2048 replies this session can hold; settle replies as they arrive.",
    });
    return;
  }
  const delivery = sender.send({
    correlation_id: typedMessageId(request),
    application_properties: applicationProperties,
    body,
  } as Message);
  // Replies go out settled unless the client asked for unsettled ones (pyamqp does; it then settles them). A client
  // that must settle each reply also writes a frame the broker never answers, and with Nagle's algorithm on its
  // socket its next request then waits for the broker's delayed ACK (~40 ms per request on Linux).
  if (sender.snd_settle_mode !== 0) (delivery as { settled: boolean }).settled = true;
}

/** The request's message-id with its AMQP type, read from the bytes it arrived in. */
function typedMessageId(request: Message): unknown {
  const properties = readSections(bytesOf(request)).find((s) => s.code === SECTION.properties);
  const id = (properties?.typed.value as unknown[] | undefined)?.[0] as
    { type?: { name: string } } | undefined;
  return id === undefined || id.type?.name === "Null" ? undefined : id;
}
