/**
 * AMQP node addresses as the SDK writes them: "q1", "t1/Subscriptions/s1", "q1/$DeadLetterQueue",
 * "q1/$management", "$cbs", sometimes prefixed with "sb://host/". Segments are matched case-insensitively because
 * Microsoft's docs spell them in lower case while the SDK capitalises them.
 */
export type ParsedAddress =
  | { readonly node: "cbs" }
  | { readonly node: "management"; readonly entity: EntityAddress }
  | { readonly node: "entity"; readonly entity: EntityAddress };

export interface EntityAddress {
  /** queue or topic name as written by the client */
  readonly name: string;
  readonly subscription: string | undefined;
  readonly deadLetter: boolean;
}

export function parseAddress(address: string): ParsedAddress | undefined {
  let path = address.replace(/^amqps?:\/\/[^/]*/i, "").replace(/^sb:\/\/[^/]*/i, "");
  path = path.replace(/^\/+|\/+$/g, "");
  if (path.toLowerCase() === "$cbs") return { node: "cbs" };
  const parts = path.split("/");
  let management = false;
  if (parts.at(-1)?.toLowerCase() === "$management") {
    management = true;
    parts.pop();
  }
  let deadLetter = false;
  if (parts.at(-1)?.toLowerCase() === "$deadletterqueue") {
    deadLetter = true;
    parts.pop();
  }
  let entity: EntityAddress | undefined;
  if (parts.length === 1 && parts[0]) entity = { name: parts[0], subscription: undefined, deadLetter };
  else if (parts.length === 3 && parts[1]?.toLowerCase() === "subscriptions" && parts[0] && parts[2]) {
    entity = { name: parts[0], subscription: parts[2], deadLetter };
  }
  if (entity === undefined) return undefined;
  return management ? { node: "management", entity } : { node: "entity", entity };
}

/** The path of a node relative to the namespace, lower-cased, for matching CBS audiences. */
export function audiencePath(audience: string): string {
  return audience
    .replace(/^[a-z]+:\/\/[^/]*/i, "")
    .replace(/^\/+|\/+$/g, "")
    .toLowerCase();
}
