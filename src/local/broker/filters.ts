/** Subscription rule filters: the true/false filters and correlation filters (exact, case-sensitive matches, as in Service Bus). */
import type { Message } from "rhea";

import type { Filter } from "./config.ts";

const SYSTEM_FIELD: Record<string, (m: Message) => unknown> = {
  ContentType: (m) => m.content_type,
  CorrelationId: (m) => m.correlation_id,
  Label: (m) => m.subject,
  MessageId: (m) => m.message_id,
  ReplyTo: (m) => m.reply_to,
  ReplyToSessionId: (m) => m.reply_to_group_id,
  SessionId: (m) => m.group_id,
  To: (m) => m.to,
};

const same = (actual: unknown, expected: unknown) =>
  actual !== undefined && actual !== null && String(actual) === String(expected);

export function matches(filter: Filter, m: Message): boolean {
  switch (filter.type) {
    case "true":
      return true;
    case "false":
      return false;
    case "correlation": {
      for (const [field, expected] of Object.entries(filter.fields)) {
        if (!same(SYSTEM_FIELD[field]?.(m), expected)) return false;
      }
      const props = (m.application_properties ?? {}) as Record<string, unknown>;
      for (const [key, expected] of Object.entries(filter.properties)) {
        if (!same(props[key], expected)) return false;
      }
      return true;
    }
  }
}
