/**
 * Shared-access-signature tokens as core-amqp creates them:
 * `SharedAccessSignature sr=<urlencoded audience>&sig=<urlencoded base64 HMAC-SHA256("<urlencoded audience>\n<expiry>")>&se=<unix s>&skn=<key name>`.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

import type { BrokerAuth, Right } from "./auth-types.ts";

export interface VerifiedSas {
  readonly keyName: string;
  readonly rights: ReadonlySet<Right>;
  /** the audience the signature covers (decoded sr) */
  readonly resource: string;
  readonly expiresAtMs: number;
}

/** Thrown with a reason that never contains the token or key. */
export class SasTokenError extends Error {
  override name = "SasTokenError";
}

export function verifySasToken(token: string, keys: BrokerAuth["sasKeys"], nowMs = Date.now()): VerifiedSas {
  if (!token.startsWith("SharedAccessSignature "))
    throw new SasTokenError("not a SharedAccessSignature token");
  const fields = new Map<string, string>();
  for (const part of token.slice("SharedAccessSignature ".length).split("&")) {
    const eq = part.indexOf("=");
    if (eq > 0) fields.set(part.slice(0, eq), part.slice(eq + 1));
  }
  const sr = fields.get("sr");
  const sig = fields.get("sig");
  const se = fields.get("se");
  const skn = fields.get("skn");
  if (!sr || !sig || !se || !skn) throw new SasTokenError("the token lacks sr, sig, se or skn");
  const key = keys.find((k) => k.keyName === skn);
  if (!key) throw new SasTokenError(`no shared access key named '${skn}'`);
  const expected = createHmac("sha256", key.key).update(`${sr}\n${se}`).digest();
  let given: Buffer;
  try {
    given = Buffer.from(decodeURIComponent(sig), "base64");
  } catch {
    throw new SasTokenError("the signature is not valid base64");
  }
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new SasTokenError(`the signature does not match key '${skn}'`);
  }
  const expiresAtMs = Number(se) * 1000;
  if (!Number.isFinite(expiresAtMs) || expiresAtMs <= nowMs) throw new SasTokenError("the token is expired");
  return { keyName: skn, rights: new Set(key.rights), resource: decodeURIComponent(sr), expiresAtMs };
}
