/**
 * A raw rhea client for wire tests: lets a test control link credit and drain precisely, which the SDK does not
 * expose. It authenticates like the SDK on the emulator route (a SAS token put on $cbs), then is plain rhea.
 */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";

import rhea from "rhea";
import type { Connection } from "rhea";

/** A SAS token exactly as core-amqp builds one. */
function sasToken(audience: string, keyName = "RootManageSharedAccessKey", key = "SAS_KEY_VALUE"): string {
  const sr = encodeURIComponent(audience);
  const se = Math.floor(Date.now() / 1000) + 3600;
  const sig = encodeURIComponent(createHmac("sha256", key).update(`${sr}\n${se}`).digest("base64"));
  return `SharedAccessSignature sr=${sr}&sig=${sig}&se=${se}&skn=${keyName}`;
}

/** Connects to the broker's plain port and puts a SAS token for the whole namespace on $cbs. */
export async function rawConnection(port: number): Promise<Connection> {
  const container = rhea.create_container();
  const connection = container.connect({
    host: "127.0.0.1",
    port,
    reconnect: false,
    username: "anonymous",
  } as never);
  await new Promise((resolve, reject) => {
    connection.once("connection_open", resolve);
    connection.once("connection_error", reject);
  });
  const cbsReceiver = connection.open_receiver({ source: { address: "$cbs" }, name: "cbs-reply" } as never);
  const cbsSender = connection.open_sender({ target: { address: "$cbs" } });
  await new Promise((r) => cbsSender.once("sendable", r));
  const done = new Promise<number>((resolve) =>
    cbsReceiver.once("message", (ctx) =>
      resolve(Number(ctx.message?.application_properties?.["status-code"])),
    ),
  );
  cbsSender.send({
    message_id: "1",
    reply_to: "cbs-reply",
    application_properties: {
      operation: "put-token",
      name: `sb://localhost:${port}/`,
      type: "servicebus.windows.net:sastoken",
    },
    body: sasToken(`sb://localhost:${port}/`),
  });
  assert.equal(await done, 202);
  return connection;
}
