/**
 * The official Service Bus emulator's Config.json (UserConfig → Namespaces → Queues/Topics → Subscriptions → Rules),
 * validated strictly and turned into a normalised topology. Anything in the schema this broker does not implement is
 * refused here with a message naming its JSON path, so a topology never silently behaves differently from the
 * official emulator.
 */
import { readFile } from "node:fs/promises";

import { z } from "zod";

import { parseIsoDurationMs } from "./durations.ts";
import { BrokerConfigError } from "./errors.ts";

const NAME = /^[A-Za-z0-9]$|^[A-Za-z0-9][\w\-./]*[A-Za-z0-9]$/;
const name = z.string().regex(NAME, "must match the emulator's entity name pattern");
const duration = z.string();

const queueProperties = z
  .object({
    DeadLetteringOnMessageExpiration: z.boolean().default(false),
    DefaultMessageTimeToLive: duration.default("PT1H"),
    DuplicateDetectionHistoryTimeWindow: duration.default("PT20S"),
    ForwardDeadLetteredMessagesTo: z.string().default(""),
    ForwardTo: z.string().default(""),
    LockDuration: duration.default("PT1M"),
    MaxDeliveryCount: z.number().int().default(3),
    RequiresDuplicateDetection: z.boolean().default(false),
    RequiresSession: z.boolean().default(false),
  })
  .strict();

const correlationFilter = z
  .object({
    ContentType: z.string().optional(),
    CorrelationId: z.string().optional(),
    Label: z.string().optional(),
    MessageId: z.string().optional(),
    ReplyTo: z.string().optional(),
    ReplyToSessionId: z.string().optional(),
    SessionId: z.string().optional(),
    To: z.string().optional(),
    Properties: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  })
  .strict();

const rule = z
  .object({
    Name: name,
    Properties: z
      .object({
        FilterType: z.enum(["Correlation", "Sql"]),
        CorrelationFilter: correlationFilter.optional(),
        SqlFilter: z.object({ SqlExpression: z.string() }).strict().optional(),
        Action: z.object({ SqlExpression: z.string() }).strict().optional(),
      })
      .strict(),
  })
  .strict();

const subscriptionProperties = queueProperties.omit({
  DuplicateDetectionHistoryTimeWindow: true,
  RequiresDuplicateDetection: true,
});

const configSchema = z
  .object({
    UserConfig: z
      .object({
        Namespaces: z
          .array(
            z
              .object({
                Name: z.string(),
                Queues: z
                  .array(
                    z
                      .object({
                        Name: name,
                        Properties: queueProperties.default(() => queueProperties.parse({})),
                      })
                      .strict(),
                  )
                  .max(50),
                Topics: z
                  .array(
                    z
                      .object({
                        Name: name,
                        Properties: z
                          .object({
                            DefaultMessageTimeToLive: duration.default("PT1H"),
                            DuplicateDetectionHistoryTimeWindow: duration.default("PT20S"),
                            RequiresDuplicateDetection: z.boolean().default(false),
                          })
                          .strict()
                          .default({
                            DefaultMessageTimeToLive: "PT1H",
                            DuplicateDetectionHistoryTimeWindow: "PT20S",
                            RequiresDuplicateDetection: false,
                          }),
                        Subscriptions: z
                          .array(
                            z
                              .object({
                                Name: name,
                                Properties: subscriptionProperties.default(() =>
                                  subscriptionProperties.parse({}),
                                ),
                                Rules: z.array(rule).max(1000).default([]),
                              })
                              .strict(),
                          )
                          .min(1)
                          .max(50),
                      })
                      .strict(),
                  )
                  .max(50),
              })
              .strict(),
          )
          .length(1, "the emulator schema allows exactly one namespace"),
        Logging: z.object({ Type: z.enum(["File", "Console", "File,Console", "Console,File"]) }).strict(),
      })
      .strict(),
  })
  .strict();

export type Filter =
  | { readonly type: "true" }
  | { readonly type: "false" }
  | {
      readonly type: "correlation";
      readonly fields: Readonly<Record<string, string>>;
      readonly properties: Readonly<Record<string, string | number | boolean>>;
    };

export interface RuleSpec {
  readonly name: string;
  readonly filter: Filter;
}

/** Settings shared by queues and subscriptions: the things that decide how messages are delivered and retired. */
export interface DeliverySettings {
  readonly lockDurationMs: number;
  readonly maxDeliveryCount: number;
  readonly defaultTtlMs: number;
  readonly deadLetterOnExpiration: boolean;
  readonly forwardTo: string | undefined;
  readonly forwardDeadLetteredTo: string | undefined;
  /** RequiresSession: messages carry a session id and are received one session at a time (sessions.ts). */
  readonly requiresSession: boolean;
}

export interface QueueSpec extends DeliverySettings {
  readonly name: string;
  readonly duplicateDetectionWindowMs: number | undefined;
}

export interface SubscriptionSpec extends DeliverySettings {
  readonly name: string;
  readonly rules: readonly RuleSpec[];
}

export interface TopicSpec {
  readonly name: string;
  readonly defaultTtlMs: number;
  readonly duplicateDetectionWindowMs: number | undefined;
  readonly subscriptions: readonly SubscriptionSpec[];
}

export interface Topology {
  readonly namespace: string;
  readonly queues: readonly QueueSpec[];
  readonly topics: readonly TopicSpec[];
}

export interface ValidateOptions {
  /**
   * Lift the emulator's lower bounds on durations (LockDuration ≥ PT5S, DefaultMessageTimeToLive ≥ PT5M) down to
   * 100 ms, so tests can watch locks and TTLs expire in well under a second. Upper bounds still apply.
   */
  readonly allowShortDurations?: boolean;
}

/** The emulator's documented ranges (Config-schema.json). */
const LIMITS = {
  LockDuration: { min: 5_000, max: 300_000 },
  DefaultMessageTimeToLive: { min: 300_000, max: 3_600_000 },
  DuplicateDetectionHistoryTimeWindow: { min: 5_000, max: 300_000 },
} as const;

const SHORT_MIN_MS = 100;

/** Reads and JSON-parses a Config.json; validation happens in startBroker (or validateEmulatorConfig). */
export async function loadEmulatorConfig(path: string): Promise<unknown> {
  const text = await readFile(path, "utf8");
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new BrokerConfigError([`${path}: not valid JSON (${(error as Error).message})`]);
  }
}

/** Validates the official emulator's Config.json object; throws BrokerConfigError listing every problem. */
export function validateEmulatorConfig(config: unknown, options: ValidateOptions = {}): Topology {
  const parsed = configSchema.safeParse(config);
  if (!parsed.success) {
    throw new BrokerConfigError(
      parsed.error.issues.map((i) => `${["$", ...i.path].join(".")}: ${describeIssue(i)}`),
    );
  }
  const problems: string[] = [];
  const ns = parsed.data.UserConfig.Namespaces[0]!;
  const at = (...path: (string | number)[]) => ["$", "UserConfig", "Namespaces", 0, ...path].join(".");

  const dur = (text: string, field: keyof typeof LIMITS, path: string): number => {
    const ms = parseIsoDurationMs(text);
    if (ms === undefined) {
      problems.push(`${path}.${field}: "${text}" is not an ISO-8601 duration such as PT30S`);
      return 0;
    }
    const min = options.allowShortDurations ? SHORT_MIN_MS : LIMITS[field].min;
    if (ms < min || ms > LIMITS[field].max) {
      problems.push(
        `${path}.${field}: ${text} is outside the emulator's range (${min} ms .. ${LIMITS[field].max} ms)`,
      );
    }
    return ms;
  };

  const delivery = (p: z.infer<typeof subscriptionProperties>, path: string): DeliverySettings => {
    if (p.MaxDeliveryCount < 1 || p.MaxDeliveryCount > 10) {
      problems.push(`${path}.MaxDeliveryCount: ${p.MaxDeliveryCount} is outside the emulator's range 1..10`);
    }
    return {
      lockDurationMs: dur(p.LockDuration, "LockDuration", path),
      maxDeliveryCount: p.MaxDeliveryCount,
      defaultTtlMs: dur(p.DefaultMessageTimeToLive, "DefaultMessageTimeToLive", path),
      deadLetterOnExpiration: p.DeadLetteringOnMessageExpiration,
      forwardTo: p.ForwardTo === "" ? undefined : p.ForwardTo,
      forwardDeadLetteredTo:
        p.ForwardDeadLetteredMessagesTo === "" ? undefined : p.ForwardDeadLetteredMessagesTo,
      requiresSession: p.RequiresSession,
    };
  };

  const dedup = (
    p: { RequiresDuplicateDetection: boolean; DuplicateDetectionHistoryTimeWindow: string },
    path: string,
  ) =>
    p.RequiresDuplicateDetection
      ? dur(p.DuplicateDetectionHistoryTimeWindow, "DuplicateDetectionHistoryTimeWindow", path)
      : undefined;

  const queues: QueueSpec[] = ns.Queues.map((q, i) => {
    const path = at("Queues", i, "Properties");
    return {
      name: q.Name,
      ...delivery(q.Properties, path),
      duplicateDetectionWindowMs: dedup(q.Properties, path),
    };
  });

  const topics: TopicSpec[] = ns.Topics.map((t, ti) => {
    const path = at("Topics", ti, "Properties");
    const subscriptions = t.Subscriptions.map((s, si): SubscriptionSpec => {
      const sPath = at("Topics", ti, "Subscriptions", si);
      const rules = s.Rules.map((r, ri) => toRule(r, `${sPath}.Rules.${ri}`, problems));
      checkUnique(
        rules.map((r) => r.name),
        `${sPath}.Rules`,
        problems,
      );
      return {
        name: s.Name,
        ...delivery(s.Properties, `${sPath}.Properties`),
        // A subscription created without rules gets the $Default rule with a true filter, as in Azure.
        rules: rules.length > 0 ? rules : [{ name: "$Default", filter: { type: "true" } }],
      };
    });
    checkUnique(
      subscriptions.map((s) => s.name),
      at("Topics", ti, "Subscriptions"),
      problems,
    );
    return {
      name: t.Name,
      defaultTtlMs: dur(t.Properties.DefaultMessageTimeToLive, "DefaultMessageTimeToLive", path),
      duplicateDetectionWindowMs: dedup(t.Properties, path),
      subscriptions,
    };
  });

  const entityNames = [...queues.map((q) => q.name), ...topics.map((t) => t.name)];
  checkUnique(entityNames, at("Queues|Topics"), problems);
  const known = new Set(entityNames.map((n) => n.toLowerCase()));
  const checkTarget = (target: string | undefined, path: string) => {
    if (target !== undefined && !known.has(target.toLowerCase())) {
      problems.push(`${path}: forwarding target "${target}" is not a queue or topic in this namespace`);
    }
  };
  queues.forEach((q, i) => {
    checkTarget(q.forwardTo, at("Queues", i, "Properties", "ForwardTo"));
    checkTarget(q.forwardDeadLetteredTo, at("Queues", i, "Properties", "ForwardDeadLetteredMessagesTo"));
    if (q.forwardTo?.toLowerCase() === q.name.toLowerCase())
      problems.push(`${at("Queues", i, "Properties", "ForwardTo")}: a queue cannot forward to itself`);
  });
  topics.forEach((t, ti) =>
    t.subscriptions.forEach((s, si) => {
      checkTarget(s.forwardTo, at("Topics", ti, "Subscriptions", si, "Properties", "ForwardTo"));
      checkTarget(
        s.forwardDeadLetteredTo,
        at("Topics", ti, "Subscriptions", si, "Properties", "ForwardDeadLetteredMessagesTo"),
      );
    }),
  );

  if (problems.length > 0) throw new BrokerConfigError(problems);
  return { namespace: ns.Name, queues, topics };
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === "unrecognized_keys") {
    return `${issue.keys.map((k) => `"${k}"`).join(", ")} ${issue.keys.length === 1 ? "is" : "are"} not part of the emulator's Config.json schema (or not supported by the keyless broker)`;
  }
  return issue.message;
}

function checkUnique(names: readonly string[], path: string, problems: string[]) {
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n.toLowerCase()))
      problems.push(`${path}: "${n}" is defined twice (names are case-insensitive)`);
    seen.add(n.toLowerCase());
  }
}

const CORRELATION_FIELDS = [
  "ContentType",
  "CorrelationId",
  "Label",
  "MessageId",
  "ReplyTo",
  "ReplyToSessionId",
  "SessionId",
  "To",
] as const;

function toRule(r: z.infer<typeof rule>, path: string, problems: string[]): RuleSpec {
  const p = r.Properties;
  if (p.Action !== undefined)
    problems.push(`${path}.Properties.Action: SQL rule actions are not supported by the keyless broker yet`);
  if (p.FilterType === "Sql") {
    const expr = p.SqlFilter?.SqlExpression.trim();
    if (expr === undefined) problems.push(`${path}.Properties.SqlFilter: required when FilterType is "Sql"`);
    // Only the constant filters are understood; a real SQL grammar is not implemented.
    else if (/^(1\s*=\s*1|true)$/i.test(expr)) return { name: r.Name, filter: { type: "true" } };
    else if (/^(1\s*=\s*0|false)$/i.test(expr)) return { name: r.Name, filter: { type: "false" } };
    else
      problems.push(
        `${path}.Properties.SqlFilter: SQL filters are not supported by the keyless broker yet (only "1=1" and "1=0"); use a Correlation filter`,
      );
    return { name: r.Name, filter: { type: "false" } };
  }
  const c = p.CorrelationFilter;
  if (c === undefined) {
    problems.push(`${path}.Properties.CorrelationFilter: required when FilterType is "Correlation"`);
    return { name: r.Name, filter: { type: "false" } };
  }
  const fields: Record<string, string> = {};
  for (const f of CORRELATION_FIELDS) if (c[f] !== undefined) fields[f] = c[f];
  const properties = c.Properties ?? {};
  if (Object.keys(fields).length === 0 && Object.keys(properties).length === 0) {
    problems.push(`${path}.Properties.CorrelationFilter: needs at least one field or property`);
  }
  return { name: r.Name, filter: { type: "correlation", fields, properties } };
}
