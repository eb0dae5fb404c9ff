import { createServer, type Server, type Socket, connect } from "node:net";
import type { AddressInfo } from "node:net";

/**
 * A TCP proxy on loopback in front of one local port, that a test can pause: while paused it resets every new
 * connection and has cut the open ones, as a stopped endpoint looks to a client. For identity-endpoint outages.
 */
export interface PausableProxy {
  readonly port: number;
  readonly paused: boolean;
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

export async function startPausableProxy(targetPort: number): Promise<PausableProxy> {
  const open = new Set<Socket>();
  let paused = false;
  const server: Server = createServer((client) => {
    if (paused) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(targetPort, "127.0.0.1");
    open.add(client).add(upstream);
    const forget = () => {
      open.delete(client);
      open.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", forget).on("close", forget);
    upstream.on("error", forget).on("close", forget);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    get paused() {
      return paused;
    },
    pause() {
      paused = true;
      for (const socket of open) socket.resetAndDestroy();
      open.clear();
    },
    resume() {
      paused = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
