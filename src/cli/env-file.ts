import { writeFile } from "node:fs/promises";

/** Writes variables as a dotenv file (`node --env-file` and docker compose read it). */
export async function writeEnvFile(
  path: string,
  values: Record<string, string>,
  header: string,
): Promise<void> {
  const lines = Object.entries(values).map(([k, v]) => `${k}=${/[\s#"'$;]/.test(v) ? JSON.stringify(v) : v}`);
  await writeFile(path, `# ${header}\n${lines.join("\n")}\n`, { mode: 0o600 });
}
