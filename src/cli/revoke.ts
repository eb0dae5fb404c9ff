import { runGrantOrRevoke } from "./grant.ts";

/** `keyless revoke`: see grant.ts; the same flags, the opposite change. */
export function run(argv: string[]): Promise<number> {
  return runGrantOrRevoke("revoke", argv);
}
