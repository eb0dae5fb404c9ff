/**
 * The worker's image carries the worker and nothing of the local platform: its dependencies (what the Dockerfile's
 * `npm ci --omit=dev --workspaces=false` installs from the lockfile) have none of the platform's packages, and no
 * module the worker's commands can load reaches src/local, src/entra-auth or a package outside those dependencies.
 * `.ci/image` checks the same on a real install.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { describe, it } from "node:test";

const root = new URL("../../", import.meta.url);
const json = (path: string): unknown => JSON.parse(readFileSync(new URL(path, root), "utf8"));

interface LockEntry {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  link?: boolean;
  dev?: boolean;
}
const lock = json("package-lock.json") as { packages: Record<string, LockEntry> };
const pkg = json("package.json") as { dependencies: Record<string, string> };
/** What the local platform alone needs; the worker must not carry any of it. */
const PLATFORM_ONLY = [
  "fastify",
  "@peculiar/x509",
  "reflect-metadata",
  "@keyless/local",
  "@keyless/entra-auth",
];
/** Commands the worker image runs; `stack` and `dev` are the local platform's. */
const WORKER_COMMANDS = ["run", "grant", "revoke", "roles", "doctor", "send", "dlq"];

/** Node's resolution over the lockfile: from a package's folder up to the root's node_modules. */
function resolve(from: string, name: string): string | undefined {
  for (let dir = from; ; dir = dir.slice(0, Math.max(0, dir.lastIndexOf("/node_modules/")))) {
    const candidate = `${dir ? `${dir}/` : ""}node_modules/${name}`;
    if (lock.packages[candidate]) return candidate;
    if (!dir) return undefined;
  }
}

/** Every lockfile path an install of the root's production dependencies (no workspaces) puts on disk. */
function productionClosure(): Set<string> {
  const seen = new Set<string>();
  const visit = (path: string, deps: Record<string, string>) => {
    for (const name of Object.keys(deps)) {
      const at = resolve(path, name);
      if (!at || seen.has(at)) continue;
      seen.add(at);
      const entry = lock.packages[at]!;
      const optionalPeers = Object.entries(entry.peerDependenciesMeta ?? {}).filter(([, m]) => m.optional);
      const peers = Object.fromEntries(
        Object.entries(entry.peerDependencies ?? {}).filter(([n]) => !optionalPeers.some(([p]) => p === n)),
      );
      visit(at, { ...entry.dependencies, ...entry.optionalDependencies, ...peers });
    }
  };
  visit("", pkg.dependencies);
  return seen;
}

/** Relative modules reachable from `entry` by static and literal dynamic imports, and the packages they name. */
function importGraph(entries: URL[], skip: Set<string>): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>(skip);
  const packages = new Set<string>();
  const queue = [...entries];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (files.has(file.href)) continue;
    files.add(file.href);
    const source = readFileSync(file, "utf8");
    const specifiers = [
      ...source.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+"([^"]+)";/gms),
      ...source.matchAll(/^import\s+"([^"]+)";/gm),
      ...source.matchAll(/\bimport\("([^"]+)"\)/g),
    ];
    for (const [, spec] of specifiers) {
      if (spec!.startsWith(".")) queue.push(new URL(spec!, file));
      else if (!spec!.startsWith("node:") && !builtinModules.includes(spec!)) {
        const parts = spec!.split("/");
        packages.add(spec!.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!);
      }
    }
  }
  for (const skipped of skip) files.delete(skipped);
  return { files, packages };
}

describe("the worker image", () => {
  it("installs none of the local platform's packages", () => {
    const closure = productionClosure();
    assert.ok(closure.has("node_modules/@azure/service-bus"), "the walk finds the worker's own dependencies");
    for (const name of PLATFORM_ONLY) {
      assert.ok(
        !closure.has(`node_modules/${name}`),
        `${name} is not in the worker's production dependencies`,
      );
    }
    assert.ok(
      ![...closure].some((path) => lock.packages[path]?.link),
      "no workspace is linked into the worker's install",
    );
  });

  it("runs commands whose modules never reach the local platform or a package it does not install", () => {
    const closure = productionClosure();
    // main.ts names every command; the walk does not follow it into the local platform's two.
    const platformCommands = new Set(["stack", "dev"].map((c) => new URL(`src/cli/${c}.ts`, root).href));
    const { files, packages } = importGraph([new URL("src/cli/main.ts", root)], platformCommands);
    for (const name of WORKER_COMMANDS) {
      assert.ok(files.has(new URL(`src/cli/${name}.ts`, root).href), `the walk reaches keyless ${name}`);
    }
    assert.ok(files.has(new URL("src/worker/start.ts", root).href), "the walk reaches the worker");
    for (const file of files) {
      assert.doesNotMatch(file, /\/src\/(local|entra-auth)\//, `${file} is outside the worker image`);
    }
    for (const name of packages) {
      assert.ok(
        closure.has(`node_modules/${name}`),
        `${name} is imported but not installed in the worker image`,
      );
    }
  });
});
