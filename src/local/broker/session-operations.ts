/**
 * The `$management` operations of a session-enabled entity (docs §7.3, as the JS, .NET and Go clients send them):
 * renew-session-lock, get/set-session-state and get-message-sessions. All but the last need the session's lock,
 * held by the link the request names as `associated-link-name` when it names one.
 */
import rhea from "rhea";

import { badRequest } from "./errors.ts";
import type { ManagementReply } from "./management.ts";
import type { SessionStore } from "./sessions.ts";

const { types } = rhea;

/** The SDKs' default look-back for get-message-sessions when the request has no last-updated-time: 3 days. */
const DEFAULT_LOOKBACK_MS = 3 * 24 * 3600 * 1000;

export const SESSION_OPERATIONS: ReadonlySet<string> = new Set([
  "com.microsoft:renew-session-lock",
  "com.microsoft:get-session-state",
  "com.microsoft:set-session-state",
  "com.microsoft:get-message-sessions",
]);

export function sessionOperation(
  operation: string,
  body: Record<string, unknown>,
  sessions: SessionStore,
  linkName: string | undefined,
): ManagementReply {
  const ok = (replyBody?: unknown): ManagementReply => ({
    statusCode: 200,
    statusDescription: "OK",
    ...(replyBody === undefined ? {} : { body: replyBody }),
  });
  switch (operation) {
    case "com.microsoft:renew-session-lock": {
      const lockedUntil = sessions.renewSessionLock(requiredSessionId(body), linkName);
      return ok({ expiration: types.wrap_timestamp(lockedUntil) });
    }
    case "com.microsoft:get-session-state": {
      const state = sessions.getState(requiredSessionId(body), linkName);
      return ok({ "session-state": state ?? null });
    }
    case "com.microsoft:set-session-state": {
      const state = body["session-state"];
      if (state !== undefined && state !== null && !Buffer.isBuffer(state))
        throw badRequest("session-state must be binary or null");
      sessions.setState(requiredSessionId(body), state ?? undefined, linkName);
      return ok();
    }
    default: {
      const since = body["last-updated-time"];
      const updatedAfterMs = since instanceof Date ? since.getTime() : Date.now() - DEFAULT_LOOKBACK_MS;
      const skip = Number(body.skip ?? 0);
      const top = Number(body.top ?? Number.MAX_SAFE_INTEGER);
      const ids = sessions.listSessions(skip, top, updatedAfterMs);
      if (ids.length === 0) return { statusCode: 204, statusDescription: "No sessions" };
      return ok({
        skip: types.wrap_int(skip + ids.length),
        "sessions-ids": types.wrap_array(ids, 0xb1, undefined),
      });
    }
  }
}

export function optionalSessionId(body: Record<string, unknown>): string | undefined {
  const id = body["session-id"];
  return typeof id === "string" ? id : undefined;
}

function requiredSessionId(body: Record<string, unknown>): string {
  const id = optionalSessionId(body);
  if (id === undefined) throw badRequest("session-id is required");
  return id;
}
