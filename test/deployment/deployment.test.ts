/**
 * The deployment files against the worker's own configuration: a test here fails when docker-compose.yml, the
 * Dockerfile or the Bicep set a variable the worker does not read, a value it would reject, a port the local stack
 * does not use, or scaling numbers that no longer follow the worker's defaults. No Docker or Bicep CLI is needed:
 * the files are parsed (YAML), scanned (Bicep) as text, or read through the Bicep snapshots (test/deployment/support.ts).
 * The topology and the APIs have their own files here.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { describe, it } from "node:test";

import { parse } from "yaml";

import { DEFAULT_PORTS } from "../../src/local/stack.ts";
import { exportersFrom } from "../../src/telemetry/exporters.ts";
import { isDocumentedVariable, loadConfig, TUNING, VARIABLES } from "../../src/worker/config.ts";
import { read, workerEnvironment } from "./support.ts";

const root = new URL("../../", import.meta.url);

/**
 * Variables our containers get that the worker itself does not read, each with the reason it is there.
 * Anything else must be documented by the worker (src/worker/config.ts → docs/configuration.md).
 */
const PLATFORM_VARIABLES: Record<string, string> = {
  DEMO_INTERVAL_SECONDS: "read by the demo sender's shell loop in docker-compose.yml, not by keyless",
  WEBSITES_PORT: "App Service's own setting: the container port its health check calls",
};

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Record<string, string | number | boolean>;
  profiles?: string[];
  expose?: string[];
  ports?: string[];
}
const compose = parse(read("docker-compose.yml"), { merge: true }) as {
  services: Record<string, ComposeService>;
};
const services = compose.services;
const ourImage = (s: ComposeService) =>
  s.image === "keyless-worker:local" || s.image === "keyless-stack:local";
const workerServices = Object.entries(services).filter(
  ([, s]) => ourImage(s) && Array.isArray(s.command) && s.command[0] === "run",
);

/** What compose does to `${VAR:-default}`: with nothing set in the shell, the default. */
function interpolate(value: string): string {
  return value.replace(
    /\$\{(\w+)(?::?-([^}]*))?\}/g,
    (_, _name: string, fallback?: string) => fallback ?? "",
  );
}
const envOf = (s: ComposeService) =>
  Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, interpolate(String(v))]));

describe("docker-compose.yml", () => {
  it("parses, and runs the platform, a worker, demo traffic and a trace viewer by default", () => {
    const byDefault = Object.entries(services)
      .filter(([, s]) => !s.profiles)
      .map(([name]) => name);
    for (const name of ["platform", "worker", "demo-sender", "jaeger"])
      assert.ok(byDefault.includes(name), name);
    assert.deepEqual(services.platform?.command?.slice(0, 1), ["stack"]);
  });

  it("has an official-emulator profile with Microsoft's emulator, its database and a worker on a connection string", () => {
    const profile = Object.entries(services).filter(([, s]) => s.profiles?.includes("official-emulator"));
    const images = profile.map(([, s]) => s.image ?? "");
    assert.ok(images.includes("mcr.microsoft.com/azure-messaging/servicebus-emulator:latest"));
    assert.ok(images.some((i) => i.startsWith("mcr.microsoft.com/mssql/server")));
    const emulator = profile.find(([name]) => name === "servicebus-emulator")?.[1];
    assert.ok(
      (emulator as { volumes?: string[] }).volumes?.includes(
        "./src/local/broker/sample-config.json:/ServiceBus_Emulator/ConfigFiles/Config.json:ro",
      ),
      "the emulator reads the same Config.json as the local broker",
    );
    const worker = envOf(services["worker-emulator"]!);
    assert.match(
      worker.SERVICEBUS_CONNECTION_STRING ?? "",
      /^Endpoint=sb:\/\/servicebus-emulator;.*UseDevelopmentEmulator=true;$/,
    );
    assert.equal(
      worker.SERVICEBUS_FULLY_QUALIFIED_NAMESPACE,
      undefined,
      "the namespace would win over the string",
    );
  });

  it("sets on every service built from our image only variables the worker documents (or whitelisted ones)", () => {
    for (const [name, service] of Object.entries(services).filter(([, s]) => ourImage(s))) {
      for (const variable of Object.keys(service.environment ?? {})) {
        assert.ok(
          isDocumentedVariable(variable) || variable in PLATFORM_VARIABLES,
          `${name} sets ${variable}, which the worker does not document`,
        );
      }
    }
  });

  it("gives each worker service an environment the worker's own loadConfig accepts", () => {
    assert.ok(workerServices.length >= 2);
    for (const [name, service] of workerServices) {
      const config = loadConfig(envOf(service));
      // The official emulator's config has no session queue; the local platform's has orders-by-order.
      const sessions = name === "worker" ? ["orders-by-order"] : [];
      assert.deepEqual(
        config.entities.map((e) => e.path),
        ["orders", ...sessions],
        name,
      );
      assert.deepEqual(config.sessionEntities, sessions, name);
      assert.equal(config.apis.orders?.scope, "api://568c0ca2-0405-43bd-8d4c-bfdfd3f66f42/.default", name);
    }
  });

  it("reaches the platform on the local stack's default ports and the sample tenant's worker identity", () => {
    const tenant = JSON.parse(read("src/local/tenant/sample-tenant.json")) as {
      managedIdentities: Array<{ name: string; clientId: string }>;
    };
    const workerId = tenant.managedIdentities.find((m) => m.name === "orders-worker")?.clientId;
    const env = envOf(services.worker!);
    assert.equal(env.IDENTITY_ENDPOINT, `http://platform:${DEFAULT_PORTS.identity}/msi/token`);
    assert.equal(env.SERVICEBUS_FULLY_QUALIFIED_NAMESPACE, `platform:${DEFAULT_PORTS.amqps}`);
    assert.equal(env.API_ORDERS_BASE_URL, `http://platform:${DEFAULT_PORTS.api}`);
    assert.equal(env.AZURE_CLIENT_ID, workerId);
    assert.equal(
      env.IDENTITY_HEADER,
      interpolate(services.platform!.command![6]!),
      "same header on both sides",
    );
    assert.deepEqual(
      [...(services.platform!.expose ?? [])].sort(),
      Object.values(DEFAULT_PORTS).map(String).sort(),
    );
    assert.equal(
      env.NODE_EXTRA_CA_CERTS,
      "/app/.keyless/ca/ca.crt",
      "the CA the platform writes with --ca-dir",
    );
    assert.ok((services.platform!.command as string[]).includes("/app/.keyless/ca"));
  });

  it("sends telemetry to the trace viewer's OTLP/HTTP port", () => {
    assert.ok(services.jaeger?.expose?.includes("4318"));
    for (const [name, service] of workerServices) {
      assert.equal(envOf(service).OTEL_EXPORTER_OTLP_ENDPOINT, "http://jaeger:4318", name);
    }
  });
});

describe("Dockerfile", () => {
  const dockerfile = read("Dockerfile");
  /** The Dockerfile's stages by name; the last one is what `docker build .` builds. */
  const stages = new Map(
    dockerfile
      .split(/^(?=FROM )/m)
      .slice(1)
      .map((text) => [/^FROM \S+(?: AS (\S+))?/.exec(text)![1] ?? "", text] as const),
  );
  const lastStage = [...stages.keys()].at(-1)!;
  const instruction = (stage: string, name: string) => {
    const match = new RegExp(`^${name}\\s+(\\[.*\\])\\s*$`, "m").exec(stages.get(stage) ?? "");
    assert.ok(match, `${name} in exec form in stage ${stage}`);
    return JSON.parse(match[1]!) as string[];
  };

  it("builds the worker by default and the local platform only as the stack target", () => {
    assert.equal(lastStage, "worker");
    assert.deepEqual(instruction("worker", "CMD"), ["run"]);
    assert.deepEqual(instruction("stack", "CMD"), ["stack"]);
    const platform = services.platform as ComposeService & { build?: { target?: string } };
    assert.equal(
      platform.build?.target,
      "stack",
      "docker-compose's platform service builds the stack target",
    );
  });

  it("runs the same entry as package.json's keyless bin, with commands keyless has", async () => {
    const pkg = JSON.parse(read("package.json")) as { bin: Record<string, string> };
    const bin = read(pkg.bin.keyless!);
    for (const stage of ["worker", "stack"]) {
      assert.deepEqual(instruction(stage, "ENTRYPOINT"), [`/app/${pkg.bin.keyless}`]);
    }
    assert.match(bin, /src\/cli\/main\.ts/, "bin/keyless runs src/cli/main.ts");
    const source = read("src/cli/main.ts");
    const commands = /const COMMANDS[\s\S]*?^};/m.exec(source)?.[0] ?? "";
    for (const name of [
      ...Object.values(services).flatMap((s) =>
        ourImage(s) && Array.isArray(s.command) && !s.entrypoint ? [s.command[0]!] : [],
      ),
    ]) {
      assert.match(commands, new RegExp(`^  ${name}: \\{`, "m"), `keyless has no command '${name}'`);
    }
  });

  it("gives the worker every source folder but the local platform's two workspaces", () => {
    const copied = [...(stages.get("worker") ?? "").matchAll(/^COPY (src\/[\w-]+) /gm)].map((m) => m[1]);
    const folders = readdirSync(new URL("src/", root), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => `src/${d.name}`);
    const workspaces = (JSON.parse(read("package.json")) as { workspaces: string[] }).workspaces;
    assert.deepEqual(workspaces.toSorted(), ["src/entra-auth", "src/local"]);
    assert.deepEqual(copied.toSorted(), folders.filter((f) => !workspaces.includes(f)).toSorted());
    assert.match(stages.get("deps") ?? "", /npm ci --omit=dev --workspaces=false /);
  });

  it("runs as a non-root user on Node 24 slim with production dependencies and a /healthz check", () => {
    assert.match(dockerfile, /^ARG NODE_IMAGE=node:24-[\w-]*slim$/m);
    const worker = stages.get("worker") ?? "";
    assert.match(worker, /^USER node$/m);
    assert.match(worker, /^HEALTHCHECK[\s\S]*\/healthz/m);
    assert.match(
      worker,
      new RegExp(`\\|\\|${TUNING.healthPort.default}\\)`),
      "probes the default health port",
    );
    assert.match(stages.get("stack") ?? "", /^USER node$/m);
  });
});

describe("patched dependencies (patches/, applied by patch-package)", () => {
  const pkg = JSON.parse(read("package.json")) as {
    scripts: Record<string, string>;
    dependencies: Record<string, string>;
  };
  const lock = JSON.parse(read("package-lock.json")) as { packages: Record<string, { version: string }> };
  const patches = readdirSync(new URL("patches/", root));

  it("applies every patch on every npm install, failing the install when one no longer applies", () => {
    assert.match(pkg.scripts.postinstall ?? "", /^patch-package --error-on-fail --error-on-warn$/);
    assert.ok(pkg.dependencies["patch-package"], "a production dependency: `npm ci --omit=dev` runs it too");
  });

  it("names in each patch file a package version the lockfile installs", () => {
    assert.ok(patches.length > 0);
    for (const file of patches) {
      // patch-package's naming: <name>+<version>.patch, with "+" for "/" in a scope, "++" for a nested copy.
      const match = /^(.+)\+(\d[^+]*)\.patch$/.exec(file);
      assert.ok(match, `${file} is a patch-package file name`);
      const path = `node_modules/${match[1]!.replaceAll("++", "/node_modules/").replaceAll("+", "/")}`;
      assert.equal(lock.packages[path]?.version, match[2], `${file} patches the locked ${path}`);
    }
  });

  it("is copied into the image and applied there after npm ci, whose --ignore-scripts skips postinstall", () => {
    const dockerfile = read("Dockerfile");
    for (const stage of dockerfile.split(/^(?=FROM )/m).filter((s) => /npm ci/.test(s))) {
      const copy = stage.indexOf("COPY patches ./patches");
      const install = /^RUN npm ci --omit=dev [^\n]*--ignore-scripts[^\n]*&& npm run postinstall &&/m.exec(
        stage,
      );
      assert.ok(copy > 0, "each installing stage copies patches/");
      assert.ok(install && install.index > copy, "npm ci, then our postinstall by name, after the copy");
    }
    const dockerignore = read(".dockerignore");
    assert.match(dockerignore, /^!patches\/$/m, "patches/ is in the build context");
  });
});

describe("Bicep", () => {
  const files = [
    ...readdirSync(new URL("deploy/", root))
      .filter((f) => f.endsWith(".bicep"))
      .map((f) => `deploy/${f}`),
    ...readdirSync(new URL("deploy/modules/", root)).map((f) => `deploy/modules/${f}`),
  ];
  const bicep = Object.fromEntries(files.map((f) => [f, read(f)]));
  const main = bicep["deploy/main.bicep"]!;
  const paramDefault = (name: string) => {
    const match = new RegExp(`^param ${name} \\w+ = (.+)$`, "m").exec(main);
    assert.ok(match, `param ${name} has a default`);
    return match[1]!;
  };

  it("sets as app settings / container env only variables the worker documents", () => {
    const written = Object.values(bicep).flatMap((text) =>
      [...text.matchAll(/\{\s*name:\s*'([A-Z][A-Z0-9_]*)'\s*,\s*value:/g)].map((m) => m[1]!),
    );
    // What the compiler evaluates them to, the API_<NAME>_* settings built from the apis array included.
    const evaluated = ["deploy/main.snapshot.json", "test/deployment/two-apis.snapshot.json"].flatMap(
      (path) => Object.keys(workerEnvironment(path)),
    );
    const names = [...written, ...evaluated];
    assert.ok(names.includes("SERVICEBUS_FULLY_QUALIFIED_NAMESPACE") && names.includes("AZURE_CLIENT_ID"));
    assert.ok(names.includes("API_ORDERS_SCOPE") && names.includes("API_INVENTORY_RATE_LIMIT"));
    for (const name of names) {
      assert.ok(
        isDocumentedVariable(name) || name in PLATFORM_VARIABLES,
        `Bicep sets ${name}, which the worker does not document`,
      );
    }
    assert.ok(
      !names.includes("SERVICEBUS_CONNECTION_STRING"),
      "Azure is reached with the managed identity only",
    );
  });

  it("sets the OTLP protocol beside every OTLP endpoint it sets, so the Container Apps agent's injected grpc never applies to it", () => {
    for (const path of ["deploy/main.snapshot.json", "test/deployment/two-apis.snapshot.json"]) {
      const env = workerEnvironment(path);
      if (env.OTEL_EXPORTER_OTLP_ENDPOINT === undefined) continue;
      assert.ok(
        env.OTEL_EXPORTER_OTLP_PROTOCOL,
        `${path}: OTEL_EXPORTER_OTLP_PROTOCOL is set with the endpoint`,
      );
    }
    const env = workerEnvironment("test/deployment/two-apis.snapshot.json");
    assert.deepEqual(exportersFrom(env).traces, {
      kind: "otlp",
      url: "https://otel-collector.contoso.com:4317",
      protocol: "grpc",
    });
  });

  it("defaults the worker's tuning parameters to the worker's own defaults", () => {
    assert.equal(Number(paramDefault("workerConcurrency")), TUNING.concurrency.default);
    assert.equal(Number(paramDefault("workerReadAhead")), TUNING.readAhead.default);
    assert.equal(Number(paramDefault("shutdownGraceSeconds")) * 1000, TUNING.shutdownGraceMs.default);
    assert.match(main, /WORKER_HEALTH_PORT', value: '8080'/);
    assert.equal(TUNING.healthPort.default, 8080);
  });

  it("scales one replica per concurrency + read-ahead waiting messages, with a managed identity and no secret", () => {
    assert.match(main, /messagesPerReplica: workerConcurrency \+ workerReadAhead/);
    const app = bicep["deploy/modules/containerapp.bicep"]!;
    assert.match(app, /type: 'azure-servicebus'/);
    assert.match(app, /identity: scalerIdentityId/);
    assert.match(app, /messageCount: string\(messagesPerReplica\)/);
    assert.match(app, /minReplicas: 0/);
    const code = app.replace(/\/\/.*$/gm, "");
    assert.doesNotMatch(code, /\bauth:|secretRef|connection/i, "no secret-based scaler auth");
  });

  it("gives Container Apps a termination grace longer than the worker's drain, and probes the health endpoints", () => {
    const margin = /terminationGracePeriodSeconds: shutdownGraceSeconds \+ (\d+)/.exec(main);
    assert.ok(margin && Number(margin[1]) >= 5, "termination grace = drain + a margin");
    const seconds = TUNING.shutdownGraceMs.default / 1000 + Number(margin[1]);
    assert.ok(seconds <= 600, "within Container Apps' limit");
    const app = bicep["deploy/modules/containerapp.bicep"]!;
    assert.match(app, /type: 'Liveness', httpGet: \{ path: '\/healthz', port: 8080 \}/);
    assert.match(app, /type: 'Readiness', httpGet: \{ path: '\/readyz', port: 8080 \}/);
  });

  it("grants the worker identity Data Receiver only, and no Data Sender", () => {
    const identity = bicep["deploy/modules/identity.bicep"]!;
    assert.match(identity, /4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0/);
    assert.ok(
      !Object.values(bicep).some((t) => t.includes("69a216fc-b8fb-44d8-bc22-1f3c2cd27a39")),
      "no Data Sender",
    );
  });

  it("reads the production topology, and receives from one of its queues", () => {
    assert.match(main, /^var entities topology = loadJsonContent\('topology\.json'\)$/m);
    const queues = (JSON.parse(read("deploy/topology.json")) as { Queues: Array<{ Name: string }> }).Queues;
    const queueName = JSON.parse(paramDefault("queueName").replace(/'/g, '"')) as string;
    assert.ok(queues.some((q) => q.Name === queueName));
  });

  it("names the Graph extension alias it uses in bicepconfig.json", () => {
    const config = JSON.parse(read("deploy/bicepconfig.json")) as { extensions: Record<string, string> };
    const graph = bicep["deploy/graph-grants.bicep"]!;
    assert.match(graph, /^extension microsoftGraphV1$/m);
    assert.match(
      config.extensions.microsoftGraphV1 ?? "",
      /^br:mcr\.microsoft\.com\/bicep\/extensions\/microsoftgraph\/v1\.0:/,
    );
    assert.match(graph, /'Microsoft\.Graph\/appRoleAssignedTo@v1\.0'/);
    const others = Object.entries(bicep).filter(([file]) => file !== "deploy/graph-grants.bicep");
    for (const [file, text] of others)
      assert.doesNotMatch(text, /^extension /m, `${file}: compiles without the extension`);
  });
});

describe("docs/configuration.md", () => {
  it("lists every tuning variable with its default", () => {
    const doc = read("docs/configuration.md");
    for (const setting of Object.values(TUNING)) {
      assert.ok(doc.includes(`\`${setting.variable}\``), setting.variable);
    }
  });

  it("names the variables the credential choice, the identity SDK and telemetry read", () => {
    for (const name of [
      "AZURE_TENANT_ID",
      "AZURE_FEDERATED_TOKEN_FILE",
      "AZURE_POD_IDENTITY_AUTHORITY_HOST",
      "MSI_ENDPOINT",
      "MSI_SECRET",
      "IMDS_ENDPOINT",
      "IDENTITY_SERVER_THUMBPRINT",
      "OTEL_SDK_DISABLED",
      "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
      "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
      "OTEL_METRICS_EXPORTER",
    ]) {
      assert.ok(name in VARIABLES, `${name} is in VARIABLES (src/worker/config.ts)`);
    }
  });

  it("gives every variable the meaning the code gives it, as keyless run --help does", () => {
    const doc = read("docs/configuration.md");
    const help = execFileSync(process.execPath, ["src/cli/main.ts", "run", "--help"], {
      cwd: new URL("../../", import.meta.url),
      encoding: "utf8",
    });
    for (const [name, meaning] of Object.entries(VARIABLES)) {
      const row = doc.split("\n").find((line) => line.startsWith(`| \`${name}\``));
      assert.ok(row, `${name} has a row in docs/configuration.md`);
      assert.ok(row.includes(` ${meaning} `), `${name}'s row says: ${meaning}`);
      assert.ok(help.includes(name), `keyless run --help names ${name}`);
    }
  });
});
