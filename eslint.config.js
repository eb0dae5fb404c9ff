// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

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
    [/^@azure\//, "handlers never touch the Azure SDKs: the context gives them what they need"],
  ]),
  layer("src/worker/**/*.ts", [
    [
      /^\.\.\/(handlers|cli|local|operator)\//,
      "the worker never imports handlers, the CLI, operator tools or the local platform",
    ],
  ]),
  layer("src/identity/**/*.ts", [
    [
      /^\.\.\/(worker|handlers|cli|local|operator)\//,
      "the identity layer knows only @azure/identity and src/shared",
    ],
  ]),
  // The local platform is a product of its own (people run keyless stack like Azurite): it never imports the worker.
  // Its folders are one level deep, so "../" leaves src/local from its top files and "../../" from the others.
  layer("src/local/*.ts", [
    [/^\.\.\/(worker|handlers|cli|operator|identity)\//, "src/local never imports the worker's code"],
  ]),
  layer("src/local/*/*.ts", [
    [/^\.\.\/\.\.\/(worker|handlers|cli|operator|identity)\//, "src/local never imports the worker's code"],
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
