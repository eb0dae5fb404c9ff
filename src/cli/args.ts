import { parseArgs, type ParseArgsOptionsConfig } from "node:util";

/** A command-line mistake; the message says what was wrong and points at --help. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** parseArgs with errors that name the command and point at its help. */
export function parseCommandArgs<T extends ParseArgsOptionsConfig>(
  command: string,
  argv: string[],
  options: T,
) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`keyless ${command}: ${(error as Error).message}. See 'keyless ${command} --help'.`);
  }
}

/** A port flag: a whole number 0–65535 (0 = any free port). */
export function portOption(command: string, flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65_535) {
    throw new UsageError(
      `keyless ${command}: --${flag} expects a port from 0 to 65535 (0 = any free port), got "${value}"`,
    );
  }
  return port;
}
