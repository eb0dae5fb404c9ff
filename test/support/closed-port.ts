import { once } from "node:events";
import { type AddressInfo, createServer } from "node:net";

/**
 * A loopback port nothing listens on: bound once to learn a free one, then closed. Where a test points something
 * that must fail to connect (an OTLP collector that is down, the IMDS fallback) without leaving loopback.
 */
export async function closedPort(): Promise<number> {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, "close");
  return port;
}
