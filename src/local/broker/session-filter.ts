/**
 * The session parts of a receiver's attach, as Azure has them on the wire. The client names a session in its source's
 * `com.microsoft:session-filter` (null: the next available one; .NET and the JS SDK send a bare string or null, Go a
 * value described with 0x000001370000000C). Azure's answer repeats the filter with the granted session id in the
 * client's own form (each client reads it back its way: JS and .NET as a string, Go from the described value), and
 * carries `com.microsoft:locked-until-utc` in the link properties as an AMQP long of .NET ticks. Accepting the next
 * session waits up to `com.microsoft:timeout` (ms, uint) from the attach's properties.
 */
import rhea from "rhea";
import type { Sender } from "rhea";

import { isTyped, type Typed } from "./amqp-sections.ts";

const { types } = rhea;

export const SESSION_FILTER = "com.microsoft:session-filter";
export const LOCKED_UNTIL_UTC = "com.microsoft:locked-until-utc";
const TIMEOUT = "com.microsoft:timeout";
/** Without com.microsoft:timeout, Azure waits at most about a minute for a session (the SDKs' default operation timeout). */
export const DEFAULT_ACCEPT_TIMEOUT_MS = 60_000;

export interface SessionFilter {
  /** The session asked for; null for the next available one. */
  readonly sessionId: string | null;
  /** The filter value to answer with, for the granted session, in the form the client sent. */
  echo(grantedSessionId: string): unknown;
  /** How long an accept-next may wait for a session. */
  readonly timeoutMs: number;
}

/** The session filter of a receiver's attach; undefined when it has none (a sessionless receiver). */
export function sessionFilterOf(sender: Sender): SessionFilter | undefined {
  const filter = (sender.source as { filter?: Record<string, unknown> } | undefined)?.filter;
  if (filter === undefined || filter === null || !Object.hasOwn(filter, SESSION_FILTER)) return undefined;
  const raw = filter[SESSION_FILTER];
  const described = isTyped(raw) && raw.descriptor !== undefined ? raw : undefined;
  const value = described !== undefined ? plainValue(described) : raw;
  const timeout = (sender.properties as Record<string, unknown> | undefined)?.[TIMEOUT];
  return {
    sessionId: value === undefined || value === null ? null : String(value),
    echo: (granted) =>
      described !== undefined
        ? types.described_nc(described.descriptor as never, types.wrap_string(granted))
        : granted,
    timeoutMs: typeof timeout === "number" && timeout > 0 ? timeout : DEFAULT_ACCEPT_TIMEOUT_MS,
  };
}

/** A time as .NET ticks (100 ns since 0001-01-01), an AMQP long too large for a JavaScript number. */
export function dotnetTicks(ms: number): unknown {
  const ticks = BigInt(Math.round(ms)) * 10_000n + 621_355_968_000_000_000n;
  const bytes = Buffer.alloc(8);
  bytes.writeBigInt64BE(ticks);
  return types.wrap_long(bytes as never);
}

/** A described value's own value, unwrapped (rhea leaves unknown described types typed inside maps). */
function plainValue(described: Typed): unknown {
  const inner = described.value;
  return isTyped(inner) ? inner.value : inner;
}
