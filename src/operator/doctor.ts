import { ServiceBusClient } from "@azure/service-bus";

import {
  type ChosenCredential,
  chooseCredential,
  createRoleTokenProvider,
  readTokenClaims,
} from "../identity/index.ts";
import { type EntityRef, loadConfig, missingApiFix, type WorkerConfig } from "../worker/config.ts";
import { ConfigError } from "../worker/errors.ts";
import type { HandlerMap } from "../worker/handler.ts";
import { receiveFix, serviceBusErrorOf, tokenFix } from "../worker/fixes.ts";
import { runPreflight } from "../worker/preflight.ts";
import { SERVICE_BUS_SCOPE } from "../worker/token-health.ts";
import { excerpt } from "../shared/redact.ts";
import { within } from "./service-bus.ts";

export type CheckStatus = "pass" | "fail" | "skip";

export interface DoctorCheck {
  readonly check: string;
  readonly status: CheckStatus;
  readonly detail: string;
  /** What to do about a failure: a command where there is one. */
  readonly fix?: string;
}

export interface DoctorReport {
  readonly ok: boolean;
  readonly checks: readonly DoctorCheck[];
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Checks, in the order a worker needs them, everything that stops it from working: configuration, which credential
 * it will use, a Service Bus token, a token per API with the roles each handler needs, and that every entity can
 * be received from. Peeking proves Listen without locking or taking a message. Never throws: every problem is a
 * row with the fix.
 */
export async function runDoctor(
  env: Env,
  options: { handlers: HandlerMap; timeoutMs?: number },
): Promise<DoctorReport> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const checks: DoctorCheck[] = [];
  const add = (c: DoctorCheck) => checks.push(c);

  let config: WorkerConfig | undefined;
  try {
    config = loadConfig(env);
    add({
      check: "configuration",
      status: "pass",
      detail: `entities ${config.entities.map((e) => e.path).join(", ")}; APIs ${Object.keys(config.apis).join(", ") || "none"}`,
    });
  } catch (error) {
    const problems = error instanceof ConfigError ? error.problems : [(error as Error).message];
    add({
      check: "configuration",
      status: "fail",
      detail: problems.join("; "),
      fix: "set the variables named (see 'keyless run --help'); locally: keyless stack --write-env .env.local",
    });
  }

  let chosen: ChosenCredential | undefined;
  try {
    chosen = chooseCredential(env);
    add({ check: "credential", status: "pass", detail: `${chosen.source}: ${chosen.description}` });
  } catch (error) {
    add({
      check: "credential",
      status: "fail",
      detail: (error as Error).message,
      fix: "remove secrets from the environment; AZURE_CLIENT_ID must be the identity's client id",
    });
  }
  if (!config || !chosen) {
    add({
      check: "tokens, roles, entities",
      status: "skip",
      detail: "needs a valid configuration and credential",
    });
    return report(checks);
  }

  // Service Bus: a token for it (identity mode), then each entity.
  let objectId: string | undefined;
  if (config.serviceBus.kind === "identity") {
    try {
      const token = await within(
        chosen.credential.getToken(SERVICE_BUS_SCOPE),
        timeoutMs,
        "token for Service Bus",
      );
      if (!token) throw new Error("the credential returned no token");
      const claims = readTokenClaims(token.token, token.expiresOnTimestamp);
      objectId = claims.objectId;
      add({
        check: "Service Bus token",
        status: "pass",
        detail: `identity ${claims.objectId}, expires in ${Math.round((claims.expiresAt - Date.now()) / 60_000)} min`,
      });
    } catch (error) {
      add({
        check: "Service Bus token",
        status: "fail",
        detail: excerpt((error as Error).message, 300),
        fix: tokenFix(chosen.source, { clientId: env.AZURE_CLIENT_ID, error }),
      });
    }
  } else {
    add({
      check: "Service Bus token",
      status: "skip",
      detail: "SERVICEBUS_CONNECTION_STRING (shared key) is used; fine for emulators, never for Azure",
    });
  }

  // APIs: one token each, its roles compared with what every handler of that API needs.
  const preflight = await runPreflight(
    options.handlers,
    config.apis,
    createRoleTokenProvider({ credential: chosen.credential, timeoutMs }),
  );
  objectId ??= preflight.objectId;
  for (const row of preflight.rows) {
    const api = config.apis[row.api];
    const resource = api?.scope.replace(/\/\.default$/, "") ?? row.api;
    if (row.error) {
      add({
        check: `API ${row.api} for ${row.handler}`,
        status: "fail",
        detail: row.error,
        fix: api
          ? tokenFix(chosen.source, {
              clientId: env.AZURE_CLIENT_ID,
              resource,
              error: new Error(row.error),
            })
          : missingApiFix(row.api),
      });
    } else if (row.missing.length > 0) {
      add({
        check: `roles for ${row.handler}`,
        status: "fail",
        detail: `needs ${row.needs.join(", ")} on ${row.api}; token has ${row.has?.join(", ") || "no roles"}`,
        fix: row.missing
          .map(
            (role) =>
              `keyless grant --identity ${preflight.objectId ?? "<object id>"} --api ${resource} --role ${role}`,
          )
          .join(" && "),
      });
    } else {
      add({
        check: `roles for ${row.handler}`,
        status: "pass",
        detail: `${row.needs.join(", ") || "no roles needed"} on ${row.api}`,
      });
    }
  }

  const client =
    config.serviceBus.kind === "identity"
      ? new ServiceBusClient(
          config.serviceBus.fullyQualifiedNamespace,
          chosen.credential,
          clientOptions(timeoutMs),
        )
      : new ServiceBusClient(config.serviceBus.connectionString, clientOptions(timeoutMs));
  try {
    for (const entity of config.entities) {
      add(await checkEntity(client, entity, config, objectId, timeoutMs));
    }
  } finally {
    await client.close().catch(() => undefined);
  }
  return report(checks);
}

// One attempt, a short operation timeout: a missing role must be reported now, not after ~90 s of retries.
const clientOptions = (timeoutMs: number) => ({ retryOptions: { maxRetries: 0, timeoutInMs: timeoutMs } });

async function checkEntity(
  client: ServiceBusClient,
  entity: EntityRef,
  config: WorkerConfig,
  objectId: string | undefined,
  timeoutMs: number,
): Promise<DoctorCheck> {
  const receiver =
    entity.kind === "queue"
      ? client.createReceiver(entity.queue)
      : client.createReceiver(entity.topic, entity.subscription);
  const check = `receive from ${entity.path}`;
  try {
    const peeked = await within(receiver.peekMessages(1), timeoutMs + 1_000, `peek ${entity.path}`);
    return {
      check,
      status: "pass",
      detail: `Listen ok (peeked ${peeked.length} message${peeked.length === 1 ? "" : "s"}, nothing locked or taken)`,
    };
  } catch (error) {
    const { code, message } = serviceBusErrorOf(error);
    return {
      check,
      status: "fail",
      detail: excerpt(`${code ? `${code}: ` : ""}${message}`, 300),
      fix: receiveFix(code, entity, config, objectId),
    };
  } finally {
    await receiver.close().catch(() => undefined);
  }
}

function report(checks: DoctorCheck[]): DoctorReport {
  return { ok: checks.every((c) => c.status !== "fail"), checks };
}
