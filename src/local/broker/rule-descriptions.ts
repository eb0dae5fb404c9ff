/**
 * Rules as `com.microsoft:enumerate-rules` answers them: described lists with the descriptor codes the SDK checks
 * (docs §7.3). The SDK reads list items as typed values, so everything here stays AMQP-typed.
 */
import rhea from "rhea";

import type { RuleSpec } from "./config.ts";

const { types } = rhea;
const RULE_DESCRIPTION = 0x0000013700000004;
const TRUE_FILTER = 0x0000001370000007;
const FALSE_FILTER = 0x0000001370000008;
const CORRELATION_FILTER = 0x0000001370000009;
const EMPTY_ACTION = 0x0000013700000005;

const described = (code: number, items: unknown[]) =>
  (types as unknown as { described(d: unknown, v: unknown): unknown }).described(
    types.wrap_ulong(code),
    types.wrap_list(items),
  );

const str = (v: string | undefined) => (v === undefined ? null : types.wrap_string(v));

export function encodeRule(rule: RuleSpec): unknown {
  const f = rule.filter;
  const filter =
    f.type === "true"
      ? described(TRUE_FILTER, [])
      : f.type === "false"
        ? described(FALSE_FILTER, [])
        : described(CORRELATION_FILTER, [
            str(f.fields.CorrelationId),
            str(f.fields.MessageId),
            str(f.fields.To),
            str(f.fields.ReplyTo),
            str(f.fields.Label),
            str(f.fields.SessionId),
            str(f.fields.ReplyToSessionId),
            str(f.fields.ContentType),
            types.wrap_map(f.properties),
          ]);
  return {
    "rule-description": described(RULE_DESCRIPTION, [
      filter,
      described(EMPTY_ACTION, []),
      types.wrap_string(rule.name),
    ]),
  };
}
