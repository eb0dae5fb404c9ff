import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { MissingAppRoleError } from "../../src/identity/errors.ts";
import { describe as deadLetterDescription } from "../../src/worker/outcome.ts";

const OBJECT_ID = "c1fcf6b2-7fc3-4a43-92cd-5ea3cadbce61";
const CLIENT_ID = "eb7db80e-1d4d-44ad-8bd1-b8954bad2e36";
const SCOPE = "api://568c0ca2-0405-43bd-8d4c-bfdfd3f66f42/.default";

const error = (missingRoles: string[]) =>
  new MissingAppRoleError({
    api: "orders",
    scope: SCOPE,
    missingRoles,
    grantedRoles: ["Orders.Read", "Orders.Fulfil"],
    objectId: OBJECT_ID,
    appId: CLIENT_ID,
  });

describe("the MissingAppRole description", () => {
  it("says what is wrong in a short first line and gives the fix on the next", () => {
    const [first, fix, ...rest] = error(["Orders.Refund"]).message.split("\n");
    assert.equal(first, 'Missing app role Orders.Refund on API "orders".');
    assert.ok(first!.length <= 80, first);
    assert.equal(
      fix,
      `Fix: keyless grant --identity ${OBJECT_ID} --api api://568c0ca2-0405-43bd-8d4c-bfdfd3f66f42 --role Orders.Refund (it prints the az rest equivalent too).`,
    );
    assert.match(
      rest.join("\n"),
      /~24 h in Azure\); then: keyless dlq resubmit <entity> --reason MissingAppRole/,
    );
    assert.match(rest.join("\n"), new RegExp(`client id ${CLIENT_ID}\\) has on api://.*: Orders\\.Read`));
  });

  it("reaches the dead-letter queue whole: within Service Bus's 4096-character limit and the worker's 1024", () => {
    const message = error(["Orders.Refund", "Orders.Fulfil"]).message;
    const description = deadLetterDescription({
      message,
      attempts: 1,
      deliveryCount: 0,
      traceId: "0af7651916cd43dd8448eb211c80319c",
    });
    assert.ok(description.length <= 1024, `${description.length} characters`);
    assert.ok(!description.includes("…"), "nothing was cut");
    assert.ok(description.includes("--role Orders.Refund && keyless grant"));
    assert.ok(
      description.startsWith('Missing app roles Orders.Refund, Orders.Fulfil on API "orders".\nFix: '),
      "its line breaks kept: a short first line, then the fix",
    );
  });
});
