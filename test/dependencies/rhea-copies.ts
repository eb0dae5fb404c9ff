/**
 * Every copy of rhea the install holds (a nested one would need its own patch), found by the patched file each test
 * checks, and a way to load each one by its folder.
 */
import { globSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import type * as Rhea from "rhea";

const root = fileURLToPath(new URL("../../", import.meta.url));

/** The folders (relative to the repository) of the rhea copies that have `lib/<file>`. */
export function rheaCopies(file: string): string[] {
  return globSync(`node_modules/**/rhea/lib/${file}`, { cwd: root }).map((found) => dirname(dirname(found)));
}

export function loadRhea(copy: string): typeof Rhea {
  return createRequire(join(root, "package.json"))(join(root, copy)) as typeof Rhea;
}
