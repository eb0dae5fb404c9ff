import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

/** A loopback OTLP/HTTP receiver that keeps every request and accepts it with an empty body (valid in both encodings). */
export async function httpCollector() {
  const received: Array<{ path: string; contentType: string | undefined; body: Buffer }> = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      received.push({
        path: request.url ?? "",
        contentType: request.headers["content-type"],
        body: Buffer.concat(chunks),
      });
      response.writeHead(200).end();
    });
  }).listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { received, endpoint, close: () => server.close() };
}
