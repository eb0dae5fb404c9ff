/**
 * Reading the deployment files for test/deployment. The Bicep is read through its snapshots
 * (`<params>.snapshot.json`: the resources a .bicepparam deploys as the Bicep compiler evaluates them, written and
 * kept current by .ci/bicep), so these tests check what Azure would get without needing the Bicep CLI.
 */
import { readFileSync } from "node:fs";

const root = new URL("../../", import.meta.url);

export const read = (path: string) => readFileSync(new URL(path, root), "utf8");
export const readJson = <T>(path: string) => JSON.parse(read(path)) as T;

export interface SnapshotResource {
  type: string;
  name: string;
  properties: Record<string, unknown>;
}

/** The predicted resources of a committed snapshot, e.g. "deploy/main.snapshot.json". */
export function snapshotResources(path: string): SnapshotResource[] {
  return readJson<{ predictedResources: SnapshotResource[] }>(path).predictedResources;
}

/** The worker's environment in a snapshot: the container's env (Container Apps) or the site's app settings. */
export function workerEnvironment(path: string): Record<string, string> {
  const resources = snapshotResources(path);
  const app = resources.find((r) => r.type === "Microsoft.App/containerApps");
  const site = resources.find((r) => r.type === "Microsoft.Web/sites");
  const list = app
    ? (app.properties as { template: { containers: Array<{ env: NameValue[] }> } }).template.containers[0]!
        .env
    : (site!.properties as { siteConfig: { appSettings: NameValue[] } }).siteConfig.appSettings;
  return Object.fromEntries(list.map((e) => [e.name, e.value]));
}
interface NameValue {
  name: string;
  value: string;
}

/** One API of deploy/apis.json, the `apis` parameter's type in deploy/types.bicep. */
export interface ApiEntry {
  name: string;
  baseUrl: string;
  scope: string;
  appId: string;
  roles: string[];
  concurrency?: number;
  rateLimit?: string;
}

/** Entities in the emulator Config.json's shape, as deploy/topology.json and the local sample write them. */
export interface Entity {
  Name: string;
  Properties: Record<string, unknown>;
}
export interface Topic extends Entity {
  Subscriptions: Array<Entity & { Rules: Entity[] }>;
}
export interface Entities {
  Queues: Entity[];
  Topics: Topic[];
}

/** The production topology Azure gets. */
export const productionTopology = () => readJson<Entities>("deploy/topology.json");
/** The local sample Config.json's one namespace (`keyless stack`, the official emulator in compose). */
export const localTopology = () =>
  readJson<{ UserConfig: { Namespaces: Entities[] } }>("src/local/broker/sample-config.json").UserConfig
    .Namespaces[0]!;
