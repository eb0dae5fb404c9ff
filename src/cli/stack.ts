import { stdout } from "node:process";

import { DEFAULT_PORTS, startLocalStack } from "@keyless/local/stack";
import { parseCommandArgs, portOption, UsageError } from "./args.ts";
import { writeEnvFile } from "./env-file.ts";

const HELP = `usage: keyless stack [options]

Starts the local platform on loopback and runs until Ctrl-C (SIGINT) or SIGTERM:
  - a managed-identity endpoint (App Service protocol) and an Entra-shaped token issuer for the local tenant
  - a Service Bus–compatible broker: AMQPS for token credentials, AMQP for emulator connection strings
  - the sample orders API, protected by app roles

options:
  --write-env PATH         write a dotenv file with everything a worker or SDK client needs
                           (then: node --env-file=PATH src/cli/main.ts run)
  --tenant PATH            tenant file (default: the sample tenant)
  --topology PATH          Service Bus emulator Config.json (default: the sample topology)
  --identity-port N        default ${DEFAULT_PORTS.identity}   (0 = any free port, for every port flag)
  --api-port N             default ${DEFAULT_PORTS.api}
  --amqps-port N           default ${DEFAULT_PORTS.amqps}
  --amqp-port N            default ${DEFAULT_PORTS.amqp}
  --broker-http-port N     default ${DEFAULT_PORTS.brokerHttp} (entity counts as JSON)
  --ca-dir PATH            where the development CA is kept (default: .keyless/ca)
  --host ADDRESS           address to listen on (default 127.0.0.1; 0.0.0.0 in a container)
  --public-host NAME       host name clients use, in the env file and the broker's certificate (default localhost)
  --identity-header VALUE  fixed IDENTITY_HEADER (default: random per start; env KEYLESS_IDENTITY_HEADER)

environment:
  KEYLESS_STACK_PORTS=0    every port not given by a flag is a free one (CI, several stacks on one machine);
                           the env file has them all

examples:
  keyless stack --write-env .env.local
  node --env-file=.env.local src/cli/main.ts run
  KEYLESS_STACK_PORTS=0 keyless stack --write-env /tmp/k.env
`;

export async function run(argv: string[]): Promise<number> {
  if (argv.some((a) => a === "--env-file" || a.startsWith("--env-file="))) {
    // Node takes --env-file from any command line (npx's too), so it cannot be ours.
    throw new UsageError(
      "keyless stack: --env-file is Node's own option; keyless stack writes its env file with --write-env PATH",
    );
  }
  const { values } = parseCommandArgs("stack", argv, {
    help: { type: "boolean", short: "h" },
    tenant: { type: "string" },
    topology: { type: "string" },
    "write-env": { type: "string" },
    "identity-port": { type: "string" },
    "api-port": { type: "string" },
    "amqps-port": { type: "string" },
    "amqp-port": { type: "string" },
    "broker-http-port": { type: "string" },
    "ca-dir": { type: "string" },
    host: { type: "string" },
    "public-host": { type: "string" },
    "identity-header": { type: "string" },
  });
  if (values.help) {
    stdout.write(HELP);
    return 0;
  }
  const port = (flag: string) =>
    portOption("stack", flag, values[flag as keyof typeof values] as string | undefined) ?? freePorts();
  const ports = Object.fromEntries(
    Object.entries({
      identity: port("identity-port"),
      api: port("api-port"),
      amqps: port("amqps-port"),
      amqp: port("amqp-port"),
      brokerHttp: port("broker-http-port"),
    }).filter(([, v]) => v !== undefined),
  );
  let stack;
  try {
    stack = await startLocalStack({
      ports,
      ...(values.tenant ? { tenantPath: values.tenant } : {}),
      ...(values.topology ? { topologyPath: values.topology } : {}),
      ...(values["ca-dir"] ? { caDir: values["ca-dir"] } : {}),
      ...(values.host ? { host: values.host } : {}),
      ...(values["public-host"] ? { publicHost: values["public-host"] } : {}),
      ...((values["identity-header"] ?? process.env.KEYLESS_IDENTITY_HEADER)
        ? { identityHeader: values["identity-header"] ?? process.env.KEYLESS_IDENTITY_HEADER }
        : {}),
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") {
      throw new UsageError(
        `keyless stack: ${(error as Error).message}; stop what holds it, or pick free ports (--*-port 0, or KEYLESS_STACK_PORTS=0)`,
      );
    }
    throw error;
  }
  const env = stack.env();
  stdout.write(
    [
      "keyless local platform is running",
      `  managed identity   ${stack.identity.identityEndpoint}  (IDENTITY_HEADER in the env file)`,
      `  token issuer       ${stack.identity.authority}/${stack.tenant.tenantId}/v2.0/.well-known/openid-configuration`,
      `  service bus        amqps://localhost:${stack.broker.tlsPort} (token credentials)  amqp://localhost:${stack.broker.plainPort} (connection string)`,
      `  broker counts      ${env.KEYLESS_BROKER_INSPECTION_URL ?? "off"}  (KEYLESS_BROKER_INSPECTION_URL)`,
      `  orders API         ${stack.ordersApi.url}`,
      `  development CA     ${stack.caCertPath}  (NODE_EXTRA_CA_CERTS)`,
      ...(env.KEYLESS_SENDER_CLIENT_ID
        ? [
            `  sender identity    ${env.KEYLESS_SENDER_CLIENT_ID}  (KEYLESS_SENDER_CLIENT_ID: may send to ${env.SERVICEBUS_ENTITIES}; the worker's AZURE_CLIENT_ID only receives)`,
          ]
        : []),
      "",
    ].join("\n"),
  );
  if (values["write-env"]) {
    await writeEnvFile(values["write-env"], env, "written by keyless stack; valid while it runs");
    stdout.write(`wrote ${values["write-env"]}\n`);
  }
  stdout.write("Ctrl-C to stop\n");
  await new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  await stack.close();
  return 0;
}

/** KEYLESS_STACK_PORTS=0: free ports for every part whose port no flag gives; otherwise the defaults. */
function freePorts(): 0 | undefined {
  const raw = process.env.KEYLESS_STACK_PORTS?.trim();
  if (!raw) return undefined;
  if (raw !== "0") {
    throw new UsageError(`keyless stack: KEYLESS_STACK_PORTS takes 0 (free ports) or nothing, got "${raw}"`);
  }
  return 0;
}
