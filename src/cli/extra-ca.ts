import { readFileSync } from "node:fs";

import { trustCaCertificates } from "../shared/trust-ca.ts";

/**
 * Trusts the CA files named by KEYLESS_CA_CERTS and NODE_EXTRA_CA_CERTS in this process. Node reads
 * NODE_EXTRA_CA_CERTS only at start-up from the real environment: `node --env-file` does not override a value the
 * shell already has (many images set it to the system bundle), so `keyless stack` also writes KEYLESS_CA_CERTS,
 * which every keyless command honours. A certificate already trusted is not added again.
 */
export function trustExtraCaFromEnvironment(env: NodeJS.ProcessEnv = process.env): void {
  const extra: string[] = [];
  for (const variable of ["KEYLESS_CA_CERTS", "NODE_EXTRA_CA_CERTS"] as const) {
    const path = env[variable];
    if (!path) continue;
    try {
      extra.push(readFileSync(path, "utf8"));
    } catch (error) {
      throw new Error(`${variable}: cannot read ${path}: ${(error as Error).message}`, { cause: error });
    }
  }
  if (extra.length > 0) trustCaCertificates(extra);
}
