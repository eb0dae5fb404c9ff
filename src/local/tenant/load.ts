import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

import { tenantFileSchema } from "./schema.ts";
import { Tenant } from "./tenant.ts";

export const SAMPLE_TENANT_PATH = fileURLToPath(new URL("./sample-tenant.json", import.meta.url));

/** A tenant file that cannot be used; the message lists every problem with its JSON path. */
export class TenantFileError extends Error {
  override name = "TenantFileError";
}

/** Validates a parsed tenant file and builds the run-time tenant, reporting every problem at once. */
export function tenantFromObject(value: unknown, source = "tenant file"): Tenant {
  const parsed = tenantFileSchema.safeParse(value);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new TenantFileError(`${source} is not valid:\n${lines.join("\n")}`);
  }
  try {
    return new Tenant(parsed.data);
  } catch (error) {
    throw new TenantFileError(
      `${source} is not consistent:\n  ${(error as Error).message.replaceAll("\n", "\n  ")}`,
      {
        cause: error,
      },
    );
  }
}

export async function loadTenantFile(path: string = SAMPLE_TENANT_PATH): Promise<Tenant> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new TenantFileError(`cannot read tenant file ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new TenantFileError(`tenant file ${path} is not JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return tenantFromObject(value, `tenant file ${path}`);
}
