// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const LOCAL_STAYS_INSIDE = "src/local imports only itself, its own dependencies and src/shared";

export default tseslint.config(
  // The optional interop checks build and install here (ignored by git too).
  {
    ignores: [
      "node_modules/",
      ".keyless/",
      "test/interop/python/.venv/",
      "test/interop/dotnet/bin/",
      "test/interop/dotnet/obj/",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ["eslint.config.js", "bin/*.cjs"] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // Worker code lives or dies by awaited promises.
      "@typescript-eslint/no-floating-promises": [
        "error",
        {
          // node:test's describe/it return promises the runner itself awaits.
          allowForKnownSafeCalls: [
            {
              from: "package",
              package: "node:test",
              name: ["describe", "it", "test", "suite", "before", "after"],
            },
          ],
        },
      ],
      "@typescript-eslint/no-misused-promises": ["error", { checksVoidReturn: { arguments: false } }],
      "@typescript-eslint/await-thenable": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-console": "off",
    },
  },
  {
    // bin/check-node.cjs: plain CommonJS, so that it runs on the old Node it turns away.
    files: ["bin/*.cjs"],
    languageOptions: { sourceType: "commonjs", globals: { process: "readonly", module: "writable" } },
  },
  // Layering (docs/architecture.md): dependencies point one way, so each folder can be read on its own.
  layer("src/handlers/**/*.ts", [
    [
      /^\.\.\/worker\/(?!index\.ts$)/,
      "handlers see only the worker's public surface: import ../worker/index.ts",
    ],
    [
      /^\.\.\/(identity|local|cli|operator|telemetry|shared)\//,
      "handlers know only the context they are given",
    ],
    [/^@keyless\//, "handlers know only the context they are given"],
    [/^@azure\//, "handlers never touch the Azure SDKs: the context gives them what they need"],
  ]),
  layer("src/worker/**/*.ts", [
    [
      /^\.\.\/(handlers|cli|local|operator)\//,
      "the worker never imports handlers, the CLI, operator tools or the local platform",
    ],
    [/^@keyless\//, "the worker never imports the local platform or the token-checking package"],
  ]),
  layer("src/identity/**/*.ts", [
    [
      /^\.\.\/(worker|handlers|cli|local|operator)\//,
      "the identity layer knows only @azure/identity and src/shared",
    ],
    [/^@keyless\//, "the identity layer knows only @azure/identity and src/shared"],
  ]),
  // The local platform is its own package (src/local/package.json; people run keyless stack like Azurite): it
  // reaches nothing of the repo outside its folder but src/shared, and the worker never reaches it. Import strings,
  // not resolved paths, are what a lint rule sees, hence one rule per folder depth.
  layer("src/local/*.ts", [[/^\.\.\/(?!shared\/)/, LOCAL_STAYS_INSIDE]]),
  layer("src/local/*/*.ts", [[/^\.\.\/\.\.\/(?!shared\/)/, LOCAL_STAYS_INSIDE]]),
  layer("src/local/test/*/*.ts", [[/^\.\.\/\.\.\/\.\.\/(?!shared\/)/, LOCAL_STAYS_INSIDE]]),
  // The Entra token checks are a package a team can take for its own API: jose and fastify's types, nothing of ours.
  // Its tests use the local platform's Entra-shaped issuer.
  layer("src/entra-auth/*.ts", [[/^\.\.\//, "src/entra-auth stands alone: it imports nothing of this repo"]]),
  layer("src/entra-auth/test/*.ts", [
    [/^\.\.\/\.\.\/(?!local\/)/, "src/entra-auth's tests use only the package and the local platform"],
  ]),
);

/** A folder's import rule: each [pattern, message] forbids matching import paths. */
function layer(files, forbidden) {
  return {
    files: [files],
    rules: {
      "no-restricted-imports": [
        "error",
        { patterns: forbidden.map(([regex, message]) => ({ regex: regex.source, message })) },
      ],
    },
  };
}
