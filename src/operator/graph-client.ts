import { AzureCliCredential, ManagedIdentityCredential, type TokenCredential } from "@azure/identity";
import { withinTime } from "../shared/time-limit.ts";

export const DEFAULT_GRAPH_URL = "https://graph.microsoft.com";
const GRAPH_SCOPE = "https://graph.microsoft.com/.default";

type Env = Readonly<Record<string, string | undefined>>;

/** An error answer from Graph, keeping Graph's own code and message (what people search for). */
export class GraphError extends Error {
  override name = "GraphError";
  readonly status: number;
  readonly code: string;
  readonly method: string;
  readonly path: string;
  constructor(details: { status: number; code: string; message: string; method: string; path: string }) {
    super(
      `Microsoft Graph ${details.method} ${details.path}: ${details.status} ${details.code}: ${details.message}`,
    );
    this.status = details.status;
    this.code = details.code;
    this.method = details.method;
    this.path = details.path;
  }
}

export interface AdminCredential {
  readonly credential: TokenCredential;
  /** One line naming the credential, for the output; never a secret. */
  readonly description: string;
}

/**
 * The operator's credential for Graph. A managed identity when KEYLESS_ADMIN_CLIENT_ID names one (a deployment
 * pipeline's identity; locally keyless-admin), otherwise the Azure CLI login of the person at the keyboard. Never a
 * chain: a failing managed identity must not silently become someone's personal login.
 */
export function adminCredential(env: Env): AdminCredential {
  const clientId = env.KEYLESS_ADMIN_CLIENT_ID?.trim();
  if (clientId) {
    return {
      credential: new ManagedIdentityCredential({ clientId }),
      description: `managed identity ${clientId} (KEYLESS_ADMIN_CLIENT_ID)`,
    };
  }
  return {
    credential: new AzureCliCredential(),
    description: "Azure CLI login (az login); set KEYLESS_ADMIN_CLIENT_ID to use a managed identity instead",
  };
}

export interface GraphClient {
  /** Base URL without the version, e.g. https://graph.microsoft.com. */
  readonly baseUrl: string;
  get<T>(path: string): Promise<T>;
  post<T>(path: string, body: unknown): Promise<T>;
  delete(path: string): Promise<void>;
}

/**
 * A tiny Microsoft Graph v1.0 client over fetch. Paths are relative to `/v1.0`. Tokens are requested per call (the
 * credential caches them) and never leave this function except in the Authorization header.
 */
export function createGraphClient(options: {
  credential: TokenCredential;
  baseUrl?: string;
  timeoutMs?: number;
}): GraphClient {
  const baseUrl = (options.baseUrl ?? DEFAULT_GRAPH_URL).replace(/\/+$/, "");
  const timeoutMs = options.timeoutMs ?? 30_000;

  const token = async () => {
    try {
      // The identity SDK can wait forever on a hanging endpoint; give up with a message instead.
      const got = await withinTime(
        options.credential.getToken(GRAPH_SCOPE),
        timeoutMs,
        "token for Microsoft Graph",
      );
      if (!got) throw new Error("the credential returned no token for Microsoft Graph");
      return got.token;
    } catch (error) {
      throw new Error(`cannot get a Microsoft Graph token: ${(error as Error).message}`, { cause: error });
    }
  };

  const call = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const response = await fetch(`${baseUrl}/v1.0${path}`, {
      method,
      headers: {
        authorization: `Bearer ${await token()}`,
        accept: "application/json",
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!response.ok) {
      const error = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new GraphError({
        status: response.status,
        code: error?.code ?? `HTTP${response.status}`,
        message: error?.message ?? text.slice(0, 300),
        method,
        path,
      });
    }
    return json;
  };

  return {
    baseUrl,
    get: async <T>(path: string) => (await call("GET", path)) as T,
    post: async <T>(path: string, body: unknown) => (await call("POST", path, body)) as T,
    delete: async (path: string) => {
      await call("DELETE", path);
    },
  };
}

/** Quotes a value inside an OData string literal: one quote becomes two. */
export function odataString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** The Graph client the operator commands use: the admin credential and KEYLESS_GRAPH_URL (or --graph-url). */
export function graphFromEnvironment(
  env: Env,
  graphUrl?: string,
): { graph: GraphClient; admin: AdminCredential } {
  const admin = adminCredential(env);
  const baseUrl = graphUrl ?? (env.KEYLESS_GRAPH_URL?.trim() || undefined);
  return {
    admin,
    graph: createGraphClient({ credential: admin.credential, ...(baseUrl ? { baseUrl } : {}) }),
  };
}
