/**
 * The AMQP 1.0 side of the broker, on rhea: TLS and plain TCP listeners, SASL ANONYMOUS/PLAIN, and routing of
 * links to $cbs, `<entity>/$management` and entities. Every failure caused by one client (bad frames, refused
 * attaches, exceptions while handling its frames) ends at most that client's link or connection, never the broker.
 */
import net from "node:net";
import tls from "node:tls";

import type { Logger } from "pino";
import rhea from "rhea";
import type { Connection, Container, Delivery, EventContext, Message, Receiver, Sender } from "rhea";

import { type EntityAddress, parseAddress } from "./addresses.ts";
import type { BrokerAuth, Right } from "./auth-types.ts";
import { ConnectionAuth } from "./connection-auth.ts";
import { DeliveryLink, deliveryLocks } from "./delivery-link.ts";
import {
  AmqpRefusal,
  type AmqpErrorShape,
  invalidToken,
  lockLost,
  messageTooLarge,
  noSessionWithin,
  sessionfulReceiverRefused,
  sessionlessReceiverRefused,
} from "./errors.ts";
import { toOutcome } from "./dispositions.ts";
import { handleManagementRequest } from "./management.ts";
import type { MessageStore } from "./message-store.ts";
import type { Namespace } from "./namespace.ts";
import { ReplyLinks, sendReply, statusCode } from "./request-response.ts";
import {
  acceptedOutcome,
  echoOutcome,
  enableCbsSasl,
  holdAttach,
  internals,
  rejectedOutcome,
  remoteOutcome,
  settle,
  transportGone,
} from "./rhea-internals.ts";
import {
  dotnetTicks,
  LOCKED_UNTIL_UTC,
  SESSION_FILTER,
  type SessionFilter,
  sessionFilterOf,
} from "./session-filter.ts";
import { type Session, type SessionHolder, SessionStore } from "./sessions.ts";
import { decodeSent } from "./wire-message.ts";

export interface AmqpServerOptions {
  readonly namespace: Namespace;
  readonly auth: BrokerAuth;
  readonly logger: Logger;
  /** Largest transfer accepted on a sender link; advertised as max-message-size (the SDK's batch limit). */
  readonly maxMessageSizeBytes: number;
}

type LinkRole = "cbs" | "management" | "entity";

interface LinkState {
  readonly role: LinkRole;
  readonly entity?: EntityAddress;
  /** audience key of the token that authorised this link, to detach it when that token expires */
  tokenKey?: string;
  resource: string;
  consumer?: DeliveryLink;
  /** The session this link holds the lock of (a session receiver). */
  session?: { readonly sessions: SessionStore; readonly session: Session; readonly holder: SessionHolder };
}

interface ConnectionState {
  readonly auth: ConnectionAuth;
  readonly links: Map<Sender | Receiver, LinkState>;
  /** the client's receivers from $cbs and $management, which requests are answered on */
  readonly replyLinks: ReplyLinks;
  /** receivers waiting, attach unanswered, for the next available session: how to stop waiting */
  readonly waitingForSession: Map<Sender, () => void>;
}

const CREDIT = 1000;
const MAX_FRAME_SIZE = 262144;
/** A client must finish SASL and AMQP open within this time (Service Bus itself allows 20 s for the first put-token). */
const OPEN_DEADLINE_MS = 10_000;

export class AmqpServer {
  readonly #opts: AmqpServerOptions;
  readonly #container: Container;
  readonly #servers: net.Server[] = [];
  readonly #sockets = new Set<net.Socket>();
  readonly #connections = new Map<Connection, ConnectionState>();
  readonly #expiryCheck: NodeJS.Timeout;

  constructor(options: AmqpServerOptions) {
    this.#opts = options;
    this.#container = rhea.create_container({
      id: `keyless-broker-${options.namespace.name}`,
      // Settlement is ours: the SDK waits for settled=true dispositions, and defer needs `modified` kept distinct.
      sender_options: { autosettle: false, treat_modified_as_released: false },
      receiver_options: { autoaccept: false, credit_window: 0 },
    } as never);
    this.#container.sasl_server_mechanisms.enable_anonymous();
    // PLAIN credentials are not trusted for anything: authorisation happens through $cbs tokens.
    this.#container.sasl_server_mechanisms.enable_plain(() => true);
    enableCbsSasl(this.#container);
    this.#wire();
    this.#expiryCheck = setInterval(() => this.#detachExpired(), 1000);
    this.#expiryCheck.unref();
  }

  /** Starts a listener; resolves with the bound port. */
  listen(port: number, host: string, tlsOptions?: { key: string; cert: string }): Promise<number> {
    const server: net.Server = tlsOptions
      ? tls.createServer({ key: tlsOptions.key, cert: tlsOptions.cert })
      : net.createServer();
    this.#servers.push(server);
    server.on("connection", (socket: net.Socket) => {
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
    });
    server.on(tlsOptions ? "secureConnection" : "connection", (socket: net.Socket) => this.#accept(socket));
    if (server instanceof tls.Server) {
      server.on("tlsClientError", (error) =>
        this.#opts.logger.debug({ err: error.message }, "TLS handshake failed"),
      );
    }
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen({ port, host }, () => {
        server.off("error", reject);
        server.on("error", (error) => this.#opts.logger.error({ err: error }, "listener error"));
        resolve((server.address() as net.AddressInfo).port);
      });
    });
  }

  /**
   * Hands a socket to rhea, with two limits rhea does not enforce on the server side: a frame header announcing more
   * than max-frame-size (rhea would wait for gigabytes), and a client that never completes the AMQP open.
   */
  #accept(socket: net.Socket): void {
    const connection = this.#container.create_connection({
      max_frame_size: MAX_FRAME_SIZE,
      channel_max: 65535,
      // A reply written while the previous frame awaits its ACK would otherwise wait out the peer's delayed ACK
      // (about 40 ms per request/response round trip on Linux).
      tcp_no_delay: true,
    } as never);
    // One write per tick rather than per frame: rhea's transport corks the socket (patches/rhea+3.0.5.patch).
    const raw = connection as unknown as { input(buff: Buffer): void; frame_size?: number };
    const input = raw.input.bind(connection);
    raw.input = (buff: Buffer) => {
      input(buff);
      if ((raw.frame_size ?? 0) > MAX_FRAME_SIZE) {
        this.#opts.logger.info(
          { announced: raw.frame_size },
          "frame larger than max-frame-size; connection dropped",
        );
        socket.destroy();
      }
    };
    const deadline = setTimeout(() => {
      if (!connection.is_open()) socket.destroy();
    }, OPEN_DEADLINE_MS);
    deadline.unref();
    let told = false;
    const tell = () => (told = true);
    socket.once("end", tell).once("error", tell);
    socket.once("close", () => {
      clearTimeout(deadline);
      if (!told) transportGone(connection);
    });
    (connection as unknown as { accept(s: net.Socket): void }).accept(socket);
  }

  async close(): Promise<void> {
    clearInterval(this.#expiryCheck);
    for (const c of this.#connections.keys()) this.#forget(c);
    const closed = this.#servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    for (const s of this.#sockets) s.destroy();
    await Promise.all(closed);
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  #wire(): void {
    const c = this.#container;
    const guard =
      (name: string, fn: (ctx: EventContext) => void) =>
      (ctx: EventContext): void => {
        try {
          fn(ctx);
        } catch (error) {
          // A bug or a malformed request from one client: close that client's connection, keep serving the rest.
          this.#opts.logger.warn(
            { err: error, event: name },
            "closing a connection after an error while handling it",
          );
          ctx.connection.close({
            condition: "amqp:internal-error",
            description: "The broker could not process a frame.",
          });
        }
      };
    c.on(
      "connection_open",
      guard("connection_open", (ctx) => this.#state(ctx.connection)),
    );
    c.on(
      "sender_open",
      guard("sender_open", (ctx) => this.#onSenderOpen(ctx.connection, ctx.sender!)),
    );
    c.on(
      "receiver_open",
      guard("receiver_open", (ctx) => this.#onReceiverOpen(ctx.connection, ctx.receiver!)),
    );
    c.on(
      "message",
      guard("message", (ctx) => this.#onMessage(ctx)),
    );
    c.on(
      "sendable",
      guard("sendable", (ctx) => this.#link(ctx.connection, ctx.sender!)?.consumer?.store.pump()),
    );
    c.on(
      "sender_draining",
      guard("sender_draining", (ctx) => this.#link(ctx.connection, ctx.sender!)?.consumer?.drain()),
    );
    for (const outcome of ["accepted", "released", "rejected", "modified"] as const) {
      c.on(
        outcome,
        guard(outcome, (ctx) => this.#onDisposition(ctx.delivery!, outcome)),
      );
    }
    // A client may settle without an outcome; the broker settles too, or the session slot stays taken (a lock
    // stays until it expires, as for a client that went away).
    c.on(
      "settled",
      guard("settled", (ctx) => {
        if (!ctx.delivery!.settled) settle(ctx.delivery!);
      }),
    );
    const linkClosed = (ctx: EventContext) => this.#dropLink(ctx.connection, (ctx.sender ?? ctx.receiver)!);
    c.on("sender_close", guard("sender_close", linkClosed));
    c.on("receiver_close", guard("receiver_close", linkClosed));
    c.on("connection_close", (ctx: EventContext) => this.#forget(ctx.connection));
    c.on("disconnected", (ctx: EventContext) => this.#forget(ctx.connection));
    // Without these listeners rhea re-emits errors on the container, which would throw and end the process.
    c.on("error", (error: unknown) => this.#opts.logger.debug({ err: error }, "AMQP error"));
    c.on("protocol_error", (error: unknown) =>
      this.#opts.logger.info({ err: error }, "malformed AMQP input; connection closed"),
    );
    for (const e of ["connection_error", "session_error", "sender_error", "receiver_error"]) {
      c.on(e, (ctx: EventContext) =>
        this.#opts.logger.debug({ event: e, err: ctx.connection?.error }, "AMQP endpoint error"),
      );
    }
  }

  #state(connection: Connection): ConnectionState {
    let s = this.#connections.get(connection);
    if (s === undefined) {
      s = {
        auth: new ConnectionAuth(this.#opts.auth),
        links: new Map(),
        replyLinks: new ReplyLinks(),
        waitingForSession: new Map(),
      };
      this.#connections.set(connection, s);
    }
    return s;
  }

  #link(connection: Connection, link: Sender | Receiver): LinkState | undefined {
    return this.#connections.get(connection)?.links.get(link);
  }

  #resource(connection: Connection, path: string): string {
    const host = connection.hostname ?? "localhost";
    return `sb://${host}/${path}`;
  }

  /** The client attached a receiver: we send (deliveries, or $cbs/$management replies). */
  #onSenderOpen(connection: Connection, sender: Sender): void {
    const state = this.#state(connection);
    const source = sender.source as { address?: string } | undefined;
    const target = sender.target as { address?: string } | undefined;
    const address = source?.address ?? "";
    internals(sender).local.attach.snd_settle_mode = sender.snd_settle_mode;
    internals(sender).local.attach.rcv_settle_mode = sender.rcv_settle_mode;
    sender.set_target({ address: target?.address ?? "" });
    const parsed = parseAddress(address);
    const resource = this.#resource(connection, address);
    if (parsed?.node === "cbs" || parsed?.node === "management") {
      sender.set_source({ address });
      state.links.set(sender, { role: parsed.node, resource });
      state.replyLinks.add(sender, address, target?.address);
      return;
    }
    try {
      if (parsed === undefined)
        throw new AmqpRefusal(
          "amqp:not-found",
          `The messaging entity '${resource}' could not be found.`,
          404,
        );
      const { store, rbacPath } = this.#opts.namespace.receivable(parsed.entity, resource);
      const tokenKey = state.auth.authorize(address, rbacPath, "Listen", resource);
      const filter = sessionFilterOf(sender);
      const link: LinkState = { role: "entity", entity: parsed.entity, tokenKey, resource };
      if (store instanceof SessionStore) {
        if (filter === undefined) throw sessionlessReceiverRefused();
        this.#acceptSession(connection, sender, store, filter, link);
        return;
      }
      if (filter !== undefined) throw sessionfulReceiverRefused();
      sender.set_source({ address });
      this.#startDelivering(state, sender, store, link);
    } catch (error) {
      this.#refuseAttach(sender, error);
    }
  }

  #startDelivering(state: ConnectionState, sender: Sender, store: MessageStore, link: LinkState): void {
    const consumer = new DeliveryLink(sender, store, sender.snd_settle_mode === 1);
    state.links.set(sender, { ...link, consumer });
    store.addConsumer(consumer);
    // Nothing goes out before the attach (see attachPending); deliver what the attach's credit allows once it has.
    setImmediate(() => store.pump());
  }

  /**
   * A session receiver: the named session, or the next available one, locked for this link. The attach answer
   * carries the session id in the filter and the lock's expiry; with no session available the attach waits, then
   * is refused with com.microsoft:timeout (the SDK's ServiceTimeout).
   */
  #acceptSession(
    connection: Connection,
    sender: Sender,
    sessions: SessionStore,
    filter: SessionFilter,
    link: LinkState,
  ): void {
    const state = this.#state(connection);
    const holder: SessionHolder = {
      linkName: sender.name,
      lost: (error) => {
        this.#dropLink(connection, sender);
        sender.close(error.toAmqp());
      },
    };
    const grant = (session: Session) => {
      sender.set_source({
        address: (sender.source as { address?: string }).address ?? "",
        filter: { [SESSION_FILTER]: filter.echo(session.id) },
      });
      internals(sender).local.attach.properties = {
        [LOCKED_UNTIL_UTC]: dotnetTicks(session.lock!.lockedUntilMs),
      };
      this.#startDelivering(state, sender, session.store, {
        ...link,
        session: { sessions, session, holder },
      });
    };
    if (filter.sessionId !== null) {
      grant(sessions.acceptNamed(filter.sessionId, holder));
      return;
    }
    const next = sessions.acceptNext(holder);
    if (next !== undefined) {
      grant(next);
      return;
    }
    holdAttach(sender);
    const stopWaiting = sessions.waitForNext(
      holder,
      filter.timeoutMs,
      (session) =>
        this.#guarded(connection, "accept-next-session", () => {
          state.waitingForSession.delete(sender);
          sender.open();
          grant(session);
        }),
      () =>
        this.#guarded(connection, "accept-next-session", () => {
          state.waitingForSession.delete(sender);
          sender.open();
          this.#refuseAttach(sender, noSessionWithin(filter.timeoutMs));
        }),
    );
    state.waitingForSession.set(sender, stopWaiting);
  }

  /** The client attached a sender: we receive (messages, or $cbs/$management requests). */
  #onReceiverOpen(connection: Connection, receiver: Receiver): void {
    const state = this.#state(connection);
    const source = receiver.source as { address?: string } | undefined;
    const target = receiver.target as { address?: string } | undefined;
    const address = target?.address ?? "";
    // The attach answer repeats the client's sender settle mode, as Service Bus does. Microsoft.Azure.Amqp adopts the
    // mode the answer carries: answered with rhea's default (mixed), .NET's $management sender (settled, and every
    // request with the same empty delivery tag) sends its requests unsettled, and a request sent before the previous
    // one's disposition arrived (the reply goes out first) fails in .NET with "An item with the same key".
    internals(receiver).local.attach.snd_settle_mode = receiver.snd_settle_mode;
    receiver.set_source({ address: source?.address ?? "" });
    const parsed = parseAddress(address);
    const resource = this.#resource(connection, address);
    try {
      if (parsed === undefined)
        throw new AmqpRefusal(
          "amqp:not-found",
          `The messaging entity '${resource}' could not be found.`,
          404,
        );
      if (parsed.node === "entity") {
        const { rbacPath } = this.#opts.namespace.sendable(parsed.entity, resource);
        const tokenKey = state.auth.authorize(address, rbacPath, "Send", resource);
        state.links.set(receiver, { role: "entity", entity: parsed.entity, tokenKey, resource });
        internals(receiver).local.attach.max_message_size = this.#opts.maxMessageSizeBytes;
      } else {
        state.links.set(receiver, {
          role: parsed.node,
          ...(parsed.node === "management" ? { entity: parsed.entity } : {}),
          resource,
        });
      }
      receiver.set_target({ address });
      // The SDK counts a sender link as open only once credit arrives, so grant it with the attach.
      internals(receiver).flow(CREDIT);
    } catch (error) {
      this.#refuseAttach(receiver, error);
    }
  }

  /** Attach reply with a null terminus, then detach with the error the SDK maps (docs §3 and A.4). */
  #refuseAttach(link: Sender | Receiver, error: unknown): void {
    if (!(error instanceof AmqpRefusal)) throw error;
    this.#opts.logger.info(
      { link: link.name, condition: error.condition, reason: error.message },
      "attach refused",
    );
    link.close(error.toAmqp());
  }

  #onMessage(ctx: EventContext): void {
    const receiver = ctx.receiver!;
    const delivery = ctx.delivery!;
    const state = this.#connections.get(ctx.connection);
    const link = state?.links.get(receiver);
    if (state === undefined || link === undefined) {
      delivery.update(
        true,
        rejectedOutcome({ condition: "amqp:not-allowed", description: "link not attached" }),
      );
      return;
    }
    const credit = internals(receiver).credit;
    if (credit < CREDIT / 2) internals(receiver).flow(CREDIT - credit);
    const request = ctx.message as Message;
    switch (link.role) {
      case "cbs":
        delivery.update(true, acceptedOutcome());
        this.#onPutToken(ctx.connection, state, receiver, request);
        return;
      case "management":
        delivery.update(true, acceptedOutcome());
        this.#onManagement(state, link, receiver, request);
        return;
      case "entity":
        this.#onSend(
          state,
          link,
          receiver,
          delivery,
          ctx.message as Message | Buffer,
          (ctx as { format?: number }).format,
        );
        return;
    }
  }

  #onPutToken(connection: Connection, state: ConnectionState, receiver: Receiver, request: Message): void {
    const props = request.application_properties ?? {};
    const reply = (code: number, description: string) => {
      const sender = state.replyLinks.for(request, receiver, "$cbs");
      if (sender === undefined) return;
      sendReply(sender, request, { "status-code": statusCode(code), "status-description": description });
    };
    const token = Buffer.isBuffer(request.body) ? request.body.toString("utf8") : request.body;
    if (props.operation !== "put-token" || typeof token !== "string") {
      reply(400, "Only put-token with a string token is supported.");
      return;
    }
    const audience = String(props.name ?? "");
    state.auth.putToken(audience, String(props.type ?? ""), token).then(
      () => this.#guarded(connection, "put-token", () => reply(202, "Accepted")),
      (error: unknown) =>
        this.#guarded(connection, "put-token", () => {
          const text = error instanceof AmqpRefusal ? error.message : "The token could not be verified.";
          this.#opts.logger.info({ audience, reason: text }, "put-token refused");
          reply(401, text);
        }),
    );
  }

  /** Work that runs outside rhea's event handlers (after an await): a failure ends that connection, not the broker. */
  #guarded(connection: Connection, what: string, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.#opts.logger.warn(
        { err: error, event: what },
        "closing a connection after an error while handling it",
      );
      connection.close({
        condition: "amqp:internal-error",
        description: "The broker could not process a frame.",
      });
    }
  }

  #onManagement(state: ConnectionState, link: LinkState, receiver: Receiver, request: Message): void {
    const entity = link.entity!;
    const nodePath = link.resource.replace(/^sb:\/\/[^/]*\//, "");
    const result = handleManagementRequest(request, {
      namespace: this.#opts.namespace,
      entity,
      resource: link.resource.replace(/\/\$management$/i, ""),
      authorize: (right: Right, rbacPath: string) =>
        state.auth.authorize(nodePath, rbacPath, right, link.resource),
    });
    const sender = state.replyLinks.for(request, receiver, nodePath);
    if (sender === undefined) return;
    sendReply(
      sender,
      request,
      {
        statusCode: statusCode(result.statusCode),
        statusDescription: result.statusDescription,
        ...(result.errorCondition ? { errorCondition: rhea.types.wrap_symbol(result.errorCondition) } : {}),
      },
      result.body ?? null,
    );
  }

  #onSend(
    state: ConnectionState,
    link: LinkState,
    receiver: Receiver,
    delivery: Delivery,
    payload: Message | Buffer,
    format: number | undefined,
  ): void {
    const reject = (error: AmqpErrorShape) => delivery.update(true, rejectedOutcome(error));
    if (link.tokenKey !== undefined && state.auth.expiresAt(link.tokenKey) <= Date.now()) {
      const error = invalidToken("ExpiredToken: the token is expired", link.resource).toAmqp();
      reject(error);
      receiver.close(error);
      return;
    }
    try {
      const messages = decodeSent(payload, format);
      const total = messages.reduce((n, m) => n + m.size, 0);
      if (total > this.#opts.maxMessageSizeBytes)
        throw messageTooLarge(total, this.#opts.maxMessageSizeBytes);
      this.#opts.namespace.checkSessionIds(link.entity!.name, messages);
      for (const m of messages) this.#opts.namespace.send(link.entity!.name, m);
      delivery.update(true, acceptedOutcome());
    } catch (error) {
      if (error instanceof AmqpRefusal) reject(error.toAmqp());
      else {
        this.#opts.logger.warn({ err: error, link: receiver.name }, "could not decode a sent message");
        reject({
          condition: "amqp:decode-error",
          description: `The message could not be decoded: ${(error as Error).message}`,
        });
      }
    }
  }

  /**
   * A client's outcome for a delivery of ours. For a peek-locked message it is applied, and confirmed with the same
   * outcome (Java, .NET and Python compare the two; an error on the confirmation means the settlement failed).
   * Replies on $cbs/$management only need settling.
   */
  #onDisposition(delivery: Delivery, outcome: "accepted" | "released" | "rejected" | "modified"): void {
    if (delivery.settled) return;
    const lock = deliveryLocks.get(delivery);
    if (lock === undefined) {
      settle(delivery);
      return;
    }
    deliveryLocks.delete(delivery);
    const state = remoteOutcome(delivery);
    let reply = echoOutcome(outcome, state);
    try {
      lock.store.settle(lock.token, toOutcome(outcome, state));
    } catch (error) {
      reply = rejectedOutcome((error instanceof AmqpRefusal ? error : lockLost()).toAmqp());
    }
    settle(delivery, reply);
  }

  #dropLink(connection: Connection, link: Sender | Receiver): void {
    const state = this.#connections.get(connection);
    state?.waitingForSession.get(link as Sender)?.();
    state?.waitingForSession.delete(link as Sender);
    const ls = state?.links.get(link);
    if (state === undefined || ls === undefined) return;
    state.links.delete(link);
    state.replyLinks.delete(link as Sender);
    // Message locks taken through this link stay until they are settled (e.g. via $management) or expire; a session
    // lock ends with its link, and the locks of the session's messages with it.
    if (ls.consumer) ls.consumer.store.removeConsumer(ls.consumer);
    if (ls.session) ls.session.sessions.release(ls.session.session, ls.session.holder);
  }

  #forget(connection: Connection): void {
    const state = this.#connections.get(connection);
    if (state === undefined) return;
    for (const link of [...state.links.keys(), ...state.waitingForSession.keys()])
      this.#dropLink(connection, link);
    this.#connections.delete(connection);
  }

  /**
   * Detaches every link that delivers messages from `store` with `amqp:link:detach-forced`, as Service Bus does on
   * a gateway move or an entity update. Locks taken through them stay (settle by lock token, or let them expire).
   * Returns how many links it detached. A test hook for link recycling.
   */
  detachConsumersOf(matches: (consumer: DeliveryLink) => boolean): number {
    let detached = 0;
    for (const [connection, state] of this.#connections) {
      for (const [link, ls] of state.links) {
        if (ls.consumer && matches(ls.consumer)) {
          this.#dropLink(connection, link);
          link.close({
            condition: "amqp:link:detach-forced",
            description: "The link was detached by the keyless broker (link recycling test).",
          });
          detached += 1;
        }
      }
    }
    return detached;
  }

  /** Service Bus detaches links whose token expired without being refreshed; the SDK re-attaches with a new token. */
  #detachExpired(): void {
    const now = Date.now();
    for (const [connection, state] of this.#connections) {
      for (const [link, ls] of state.links) {
        if (ls.tokenKey !== undefined && state.auth.expiresAt(ls.tokenKey) <= now) {
          this.#dropLink(connection, link);
          link.close(invalidToken("ExpiredToken: the token is expired", ls.resource).toAmqp());
        }
      }
    }
  }
}
