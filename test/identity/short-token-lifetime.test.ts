/**
 * The shortest token lifetime the local tenant accepts. `@azure/service-bus` renews each link's claim 2 minutes
 * before its token expires (`_ensureTokenRenewal`); a token that lives shorter sets that timer negative, Node runs
 * it after 1 ms, and the link asks the identity endpoint for a token again and again (~300 a second for one idle
 * receiver of 60 s tokens, measured; docs/upstream.md). So the tenant refuses lifetimes under 180 s, and at 180 an
 * idle receiver asks a handful of times. Own file: MSAL's token cache is process-wide.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { ManagedIdentityCredential } from "@azure/identity";
import { ServiceBusClient } from "@azure/service-bus";

import {
  MIN_TOKEN_LIFETIME_SECONDS,
  TenantFileError,
  tenantFromObject,
} from "../../src/local/tenant/index.ts";
import { sampleTenant, startTestStack, type TestStack } from "../support/stack.ts";

describe("the local tenant's token lifetime", () => {
  it("refuses a lifetime under 180 s, saying what it would do to the Service Bus SDK", async () => {
    const file = (await sampleTenant()) as Record<string, unknown>;
    assert.throws(
      () => tenantFromObject({ ...file, tokenLifetimeSeconds: MIN_TOKEN_LIFETIME_SECONDS - 1 }),
      (error: unknown) =>
        error instanceof TenantFileError &&
        /tokenLifetimeSeconds: at least 180: the Service Bus SDK renews its claim 2 minutes before a token expires/.test(
          error.message,
        ),
    );
    assert.equal(
      tenantFromObject({ ...file, tokenLifetimeSeconds: MIN_TOKEN_LIFETIME_SECONDS }).tokenLifetimeSeconds,
      180,
    );
  });

  describe("at the shortest lifetime it accepts", () => {
    let stack: TestStack;
    before(async () => {
      stack = await startTestStack({
        tenant: { ...(await sampleTenant()), tokenLifetimeSeconds: MIN_TOKEN_LIFETIME_SECONDS },
      });
    });
    after(() => stack.close());

    it("an idle Service Bus receiver asks the identity endpoint for a token a few times, not every millisecond", async () => {
      const env = stack.env();
      const client = new ServiceBusClient(
        env.SERVICEBUS_FULLY_QUALIFIED_NAMESPACE!,
        new ManagedIdentityCredential({ clientId: env.AZURE_CLIENT_ID!, retryOptions: { maxRetries: 0 } }),
      );
      const errors: unknown[] = [];
      const receiver = client.createReceiver("orders");
      const before = stack.identity.tokenRequests;
      const subscription = receiver.subscribe({
        async processMessage() {},
        async processError({ error }) {
          errors.push(error);
        },
      });
      await new Promise((resolve) => setTimeout(resolve, 3000));
      const asked = stack.identity.tokenRequests - before;
      await subscription.close();
      await client.close();
      assert.deepEqual(errors, []);
      // The receiver's link and the connection's claim: a token or two each. Under 120 s tokens, over a thousand.
      assert.ok(asked >= 1 && asked <= 10, `the identity endpoint was asked ${asked} times in 3 s`);
    });
  });
});
