import type { RoleTokenSource } from "./api-client.ts";
import type { ApiConfig } from "./config.ts";
import type { HandlerMap } from "./handler.ts";
import { excerpt } from "../shared/redact.ts";

export interface PreflightRow {
  readonly handler: string;
  readonly api: string;
  readonly needs: readonly string[];
  /** Roles the identity's token carries for that API; undefined when no token could be had. */
  readonly has: readonly string[] | undefined;
  readonly missing: readonly string[];
  readonly error?: string;
}

export interface PreflightResult {
  readonly rows: readonly PreflightRow[];
  /** Every API answered with a token (roles may still be missing). */
  readonly tokensOk: boolean;
  readonly missingRoles: readonly string[];
  readonly objectId: string | undefined;
}

/**
 * For each API the handlers use, gets a token and compares its roles with what each handler needs. Never throws:
 * a missing role or an unreachable token endpoint is a row in the table, and the worker decides what it means.
 */
export async function runPreflight(
  handlers: HandlerMap,
  apis: Readonly<Record<string, ApiConfig>>,
  tokens: RoleTokenSource,
): Promise<PreflightResult> {
  const byApi = new Map<
    string,
    Promise<{ roles: readonly string[]; objectId: string } | { error: string }>
  >();
  const rows: PreflightRow[] = [];
  let objectId: string | undefined;
  for (const handler of Object.values(handlers)) {
    const name = handler.api.toLowerCase();
    const api = apis[name];
    if (!api) {
      rows.push({
        handler: handler.subject,
        api: handler.api,
        needs: handler.roles,
        has: undefined,
        missing: [...handler.roles],
        error: `API_${handler.api.toUpperCase()}_BASE_URL and API_${handler.api.toUpperCase()}_SCOPE are not set`,
      });
      continue;
    }
    if (!byApi.has(name)) {
      byApi.set(
        name,
        tokens.getToken(api, []).then(
          ({ claims }) => ({ roles: claims.roles, objectId: claims.objectId }),
          (error: unknown) => ({ error: excerpt((error as Error).message ?? String(error), 300) }),
        ),
      );
    }
    const result = await byApi.get(name)!;
    if ("error" in result) {
      rows.push({
        handler: handler.subject,
        api: name,
        needs: handler.roles,
        has: undefined,
        missing: [...handler.roles],
        error: result.error,
      });
    } else {
      objectId = result.objectId;
      const missing = handler.roles.filter((r) => !result.roles.includes(r));
      rows.push({ handler: handler.subject, api: name, needs: handler.roles, has: result.roles, missing });
    }
  }
  return {
    rows,
    tokensOk: rows.every((r) => r.error === undefined),
    missingRoles: [...new Set(rows.filter((r) => r.error === undefined).flatMap((r) => r.missing))],
    objectId,
  };
}

/** The preflight as a plain-text table people can read in a log or a terminal. */
export function formatPreflightTable(result: PreflightResult): string {
  const header = ["handler", "api", "needs", "has", "status"];
  const body = result.rows.map((r) => [
    r.handler,
    r.api,
    r.needs.join(", ") || "-",
    r.has === undefined ? "?" : r.has.join(", ") || "(none)",
    r.error ? `no token: ${r.error}` : r.missing.length > 0 ? `MISSING ${r.missing.join(", ")}` : "ok",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => Math.min(60, row[i]!.length))));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}
