import type { RoleTokenSource } from "./api-client.ts";
import { type ApiConfig, missingApiFix } from "./config.ts";
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
        error: `API "${handler.api}" is not configured: ${missingApiFix(handler.api)}`,
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
