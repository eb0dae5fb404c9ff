/**
 * `<entity>/$management` request/response operations used by @azure/service-bus 7.9.5 (docs §7.3): renew-lock,
 * peek, schedule/cancel, receive-by-sequence-number (deferred) and update-disposition, each also on a session entity
 * (with the request's `session-id`), and the session operations (session-operations.ts). Lock tokens travel as AMQP
 * uuids in RFC byte order here (unlike delivery tags). Responses use camelCase `statusCode`, which peek's 204 check
 * requires literally.
 */
import rhea from "rhea";
import type { Message } from "rhea";

import type { EntityAddress } from "./addresses.ts";
import type { Right } from "./auth-types.ts";
import { AmqpRefusal, badRequest, sessionfulReceiverRefused, sessionlessReceiverRefused } from "./errors.ts";
import { bytesToUuid, uuidToBytes } from "./lock-token.ts";
import type { MessageStore, Outcome, Properties } from "./message-store.ts";
import type { Namespace } from "./namespace.ts";
import { encodeRule } from "./rule-descriptions.ts";
import { optionalSessionId, SESSION_OPERATIONS, sessionOperation } from "./session-operations.ts";
import { SessionStore } from "./sessions.ts";
import { encodeForClient, WireMessage } from "./wire-message.ts";

const { types } = rhea;

export interface ManagementContext {
  readonly namespace: Namespace;
  readonly entity: EntityAddress;
  /** The client-facing resource name, for error texts. */
  readonly resource: string;
  /** Throws an AmqpRefusal when the connection's token lacks the right on this entity. */
  authorize(right: Right, rbacPath: string): void;
}

export interface ManagementReply {
  readonly statusCode: number;
  readonly statusDescription: string;
  readonly errorCondition?: string;
  readonly body?: unknown;
}

const OK: ManagementReply = { statusCode: 200, statusDescription: "OK" };

export function handleManagementRequest(request: Message, ctx: ManagementContext): ManagementReply {
  const operation = String(request.application_properties?.operation ?? "");
  const body = (request.body ?? {}) as Record<string, unknown>;
  const linkName = request.application_properties?.["associated-link-name"] as string | undefined;
  const sessionId = optionalSessionId(body);
  try {
    if (SESSION_OPERATIONS.has(operation)) {
      const store = receiveStore(ctx, "Listen");
      if (!(store instanceof SessionStore)) throw sessionfulReceiverRefused();
      return sessionOperation(operation, body, store, linkName);
    }
    switch (operation) {
      case "com.microsoft:renew-lock": {
        const store = receiveStore(ctx, "Listen");
        const expirations = lockTokens(body).map((t) =>
          store instanceof SessionStore ? store.renewMessageLock(t, sessionId) : store.renewLock(t),
        );
        return { ...OK, body: { expirations: types.wrap_array(expirations, 0x83, undefined) } };
      }
      case "com.microsoft:peek-message": {
        const store = receiveStore(ctx, "Listen");
        const from = toNumber(body["from-sequence-number"] ?? 1);
        const count = toNumber(body["message-count"] ?? 1);
        const omitBody = body["omit-message-body"] === true;
        const max = Math.max(1, Math.min(count, 1000));
        const found =
          store instanceof SessionStore ? store.peek(from, max, sessionId) : store.peek(from, max);
        if (found.length === 0) return { statusCode: 204, statusDescription: "No messages" };
        return {
          ...OK,
          body: { messages: found.map((m) => ({ message: encodeForClient(m, { omitBody }) })) },
        };
      }
      case "com.microsoft:schedule-message": {
        const { rbacPath } = ctx.namespace.sendable(ctx.entity, ctx.resource);
        ctx.authorize("Send", rbacPath);
        const items = asArray(body.messages).map((item) => {
          const bytes = (item as Record<string, unknown>).message;
          if (!Buffer.isBuffer(bytes))
            throw badRequest("each scheduled message must be an encoded AMQP message");
          return WireMessage.decode(bytes);
        });
        ctx.namespace.checkSessionIds(ctx.entity.name, items);
        const seqs = items.map((message) => ctx.namespace.send(ctx.entity.name, message) ?? 0);
        return { ...OK, body: { "sequence-numbers": types.wrap_array(seqs, 0x81, undefined) } };
      }
      case "com.microsoft:cancel-scheduled-message": {
        const { rbacPath } = ctx.namespace.sendable(ctx.entity, ctx.resource);
        ctx.authorize("Send", rbacPath);
        ctx.namespace.cancelScheduled(ctx.entity.name, asArray(body["sequence-numbers"]).map(toNumber));
        return OK;
      }
      case "com.microsoft:receive-by-sequence-number": {
        const store = receiveStore(ctx, "Listen");
        const receiveAndDelete = toNumber(body["receiver-settle-mode"] ?? 1) === 0;
        const seqs = asArray(body["sequence-numbers"]).map(toNumber);
        let messages;
        if (!(store instanceof SessionStore)) messages = store.receiveDeferred(seqs, receiveAndDelete);
        // A session's deferred messages are locked under its session lock, so the request must name the session.
        else if (sessionId === undefined) throw sessionlessReceiverRefused();
        else messages = store.receiveDeferred(seqs, receiveAndDelete, sessionId, linkName);
        return {
          ...OK,
          body: {
            messages: messages.map((m) => ({
              ...(m.lock ? { "lock-token": types.wrap_uuid(uuidToBytes(m.lock.token)) } : {}),
              message: encodeForClient(m, { lockedUntilMs: m.lock?.lockedUntilMs }),
            })),
          },
        };
      }
      case "com.microsoft:update-disposition": {
        const store = receiveStore(ctx, "Listen");
        const outcome = dispositionOutcome(body);
        for (const token of lockTokens(body)) {
          if (store instanceof SessionStore) store.settle(token, outcome, sessionId);
          else store.settle(token, outcome);
        }
        return OK;
      }
      case "com.microsoft:enumerate-rules": {
        const { rules, rbacPath } = ctx.namespace.rules(ctx.entity, ctx.resource);
        ctx.authorize("Manage", rbacPath);
        const skip = toNumber(body.skip ?? 0);
        const top = toNumber(body.top ?? rules.length);
        const page = rules.slice(skip, skip + top);
        if (page.length === 0) return { statusCode: 204, statusDescription: "No rules" };
        return { ...OK, body: { rules: page.map(encodeRule) } };
      }
      case "com.microsoft:add-rule":
      case "com.microsoft:remove-rule":
        return {
          statusCode: 501,
          statusDescription:
            "Rules come from Config.json in the keyless broker and cannot be changed at run time.",
          errorCondition: "amqp:not-implemented",
        };
      default:
        return {
          statusCode: 501,
          statusDescription: `The operation '${operation}' is not supported by the keyless broker.`,
          errorCondition: "amqp:not-implemented",
        };
    }
  } catch (error) {
    if (error instanceof AmqpRefusal) {
      return {
        statusCode: error.statusCode,
        statusDescription: error.message,
        errorCondition: error.condition,
      };
    }
    throw error;
  }
}

function receiveStore(ctx: ManagementContext, right: Right): MessageStore | SessionStore {
  const { store, rbacPath } = ctx.namespace.receivable(ctx.entity, ctx.resource);
  ctx.authorize(right, rbacPath);
  return store;
}

function dispositionOutcome(body: Record<string, unknown>): Outcome {
  const properties = body["properties-to-modify"] as Properties | undefined;
  switch (body["disposition-status"]) {
    case "completed":
      return { kind: "complete" };
    case "abandoned":
      return { kind: "abandon", properties };
    case "defered": // sic: the SDK's spelling on the wire
    case "deferred":
      return { kind: "defer", properties };
    case "suspended":
      return {
        kind: "deadLetter",
        reason: body["deadletter-reason"] as string | undefined,
        description: body["deadletter-description"] as string | undefined,
        properties,
      };
    default:
      throw badRequest(`unknown disposition-status '${String(body["disposition-status"])}'`);
  }
}

function lockTokens(body: Record<string, unknown>): string[] {
  return asArray(body["lock-tokens"]).map((t) => {
    if (Buffer.isBuffer(t) && t.length === 16) return bytesToUuid(t);
    if (typeof t === "string") return t.toLowerCase();
    throw badRequest("lock-tokens must be uuids");
  });
}

function asArray(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  if (v === undefined || v === null) return [];
  return [v];
}

/** AMQP longs arrive as numbers, or as 8-byte buffers when rhea cannot represent them exactly. */
function toNumber(v: unknown): number {
  if (typeof v === "number") return v;
  if (Buffer.isBuffer(v) && v.length === 8) return Number(v.readBigInt64BE(0));
  if (typeof v === "bigint") return Number(v);
  throw badRequest(`expected a number, got ${typeof v}`);
}
