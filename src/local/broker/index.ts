export type { BrokerAuth, Right } from "./auth-types.ts";
export { EMULATOR_DEFAULT_SAS_KEY } from "./auth-types.ts";
export type { Broker, BrokerOptions } from "./broker.ts";
export { startBroker } from "./broker.ts";
export type { Topology, ValidateOptions } from "./config.ts";
export { loadEmulatorConfig, validateEmulatorConfig } from "./config.ts";
export { BrokerConfigError } from "./errors.ts";
export type { BrokerStats, EntityStats } from "./namespace.ts";

/** The sample topology (official emulator schema): queues orders and orders-bench, topic order-events. */
export const SAMPLE_CONFIG_PATH = new URL("./sample-config.json", import.meta.url).pathname;
