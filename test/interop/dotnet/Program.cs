// Microsoft's .NET Service Bus client (Azure.Messaging.ServiceBus, Azure.Identity) against `keyless stack`.
// Run by test/interop/dotnet.test.ts with the stack's environment:
//   checks            every check over both routes; one JSON line per check {route, check, ok, detail}
//   enqueue N PREFIX  N orders.fulfil messages for orders PREFIX-1..N, over managed identity and TLS
using System.Text;
using System.Text.Json;
using Azure.Core.Amqp;
using Azure.Identity;
using Azure.Messaging.ServiceBus;

static string Need(string name) =>
    Environment.GetEnvironmentVariable(name) ?? throw new InvalidOperationException($"{name} is not set");

var fast = new ServiceBusClientOptions
{
    RetryOptions = new ServiceBusRetryOptions { MaxRetries = 0, TryTimeout = TimeSpan.FromSeconds(15) },
};
ServiceBusClient ConnectionString() => new(Need("SERVICEBUS_CONNECTION_STRING"), fast);
// The stack's namespace is host:port; .NET takes a host name and a custom endpoint for where to connect (TLS included).
ServiceBusClient ManagedIdentity(string clientId)
{
    var hostAndPort = Need("SERVICEBUS_FULLY_QUALIFIED_NAMESPACE");
    var options = new ServiceBusClientOptions
    {
        RetryOptions = fast.RetryOptions,
        CustomEndpointAddress = new Uri($"sb://{hostAndPort}"),
    };
    return new(hostAndPort.Split(':')[0],
        new ManagedIdentityCredential(ManagedIdentityId.FromUserAssignedClientId(clientId)), options);
}

var mode = args.Length > 0 ? args[0] : "checks";
if (mode == "enqueue")
{
    var count = int.Parse(args[1]);
    var prefix = args[2];
    await using var producer = ManagedIdentity(Need("KEYLESS_SENDER_CLIENT_ID"));
    var sender = producer.CreateSender(Need("SERVICEBUS_ENTITIES"));
    var ids = new List<string>();
    using var batch = await sender.CreateMessageBatchAsync();
    for (var i = 1; i <= count; i++)
    {
        var orderId = $"{prefix}-{i}";
        var message = new ServiceBusMessage(BinaryData.FromString(JsonSerializer.Serialize(new { orderId })))
        {
            MessageId = Guid.NewGuid().ToString(),
            Subject = "orders.fulfil",
            ContentType = "application/json",
        };
        if (!batch.TryAddMessage(message)) throw new InvalidOperationException("batch full");
        ids.Add(message.MessageId);
    }
    await sender.SendMessagesAsync(batch);
    Console.WriteLine(JsonSerializer.Serialize(new { messageIds = ids }));
    return 0;
}

var failures = 0;
var only = Environment.GetEnvironmentVariable("INTEROP_ONLY"); // one check by name, when debugging
async Task Check(string route, string name, Func<Task<string>> body)
{
    if (only is not null && !only.Split(",").Contains(name)) return;
    string detail;
    var ok = false;
    try
    {
        detail = await body();
        ok = true;
    }
    catch (Exception e)
    {
        detail = $"{e.GetType().Name}: {e.Message}";
        failures++;
    }
    Console.WriteLine(JsonSerializer.Serialize(new { route, check = name, ok, detail }));
}

static void Expect(bool condition, string what)
{
    if (!condition) throw new InvalidOperationException($"expected {what}");
}

var routes = new (string Name, Func<ServiceBusClient> Client, string Queue, string SessionQueue)[]
{
    ("connection-string", ConnectionString, Need("INTEROP_QUEUE_CS"), Need("INTEROP_SESSION_QUEUE_CS")),
    ("managed-identity-tls", () => ManagedIdentity(Need("KEYLESS_ADMIN_CLIENT_ID")), Need("INTEROP_QUEUE_MI"), Need("INTEROP_SESSION_QUEUE_MI")),
};
var wait = TimeSpan.FromSeconds(5);

foreach (var (route, makeClient, queue, sessionQueue) in routes)
{
    await using var client = makeClient();
    var sender = client.CreateSender(queue);
    var receiver = client.CreateReceiver(queue);

    async Task<ServiceBusReceivedMessage> Receive()
    {
        var m = await receiver.ReceiveMessageAsync(wait);
        return m ?? throw new InvalidOperationException("no message received");
    }

    await Check(route, "send-receive-complete", async () =>
    {
        await sender.SendMessageAsync(new ServiceBusMessage("hello") { MessageId = "m-1" });
        var m = await Receive();
        Expect(m.Body.ToString() == "hello" && m.MessageId == "m-1", "body and message id as sent");
        Expect(m.DeliveryCount == 1 && m.SequenceNumber > 0 && m.LockedUntil > DateTimeOffset.UtcNow, "delivery count 1, sequence number, lock");
        await receiver.CompleteMessageAsync(m);
        Expect(await receiver.ReceiveMessageAsync(TimeSpan.FromMilliseconds(300)) is null, "nothing left after complete");
        return $"seq {m.SequenceNumber}";
    });

    await Check(route, "abandon", async () =>
    {
        await sender.SendMessageAsync(new ServiceBusMessage("abandon me"));
        var m = await Receive();
        await receiver.AbandonMessageAsync(m, new Dictionary<string, object> { ["retried"] = true, ["attempt"] = 2 });
        var again = await Receive();
        Expect(again.SequenceNumber == m.SequenceNumber && again.DeliveryCount == 2,
            $"redelivery of {m.SequenceNumber} with DeliveryCount 2, got {again.SequenceNumber} '{again.Body}' with {again.DeliveryCount}");
        Expect(again.ApplicationProperties["retried"] is true && again.ApplicationProperties["attempt"] is int, "modified properties keep bool and int");
        await receiver.CompleteMessageAsync(again);
        return $"deliveryCount {again.DeliveryCount}";
    });

    await Check(route, "dead-letter", async () =>
    {
        await sender.SendMessageAsync(new ServiceBusMessage("poison"));
        var m = await Receive();
        await receiver.DeadLetterMessageAsync(m, "InvalidPayload", "no lines");
        var dlq = client.CreateReceiver(queue, new ServiceBusReceiverOptions { SubQueue = SubQueue.DeadLetter });
        var dead = await dlq.ReceiveMessageAsync(wait) ?? throw new InvalidOperationException("nothing in the dead-letter queue");
        Expect(dead.DeadLetterReason == "InvalidPayload" && dead.DeadLetterErrorDescription == "no lines", "reason and description");
        await dlq.CompleteMessageAsync(dead);
        return $"{dead.DeadLetterReason}: {dead.DeadLetterErrorDescription}";
    });

    await Check(route, "dead-letter-queue-refuses-dead-letter", async () =>
    {
        await sender.SendMessageAsync(new ServiceBusMessage("poison twice"));
        await receiver.DeadLetterMessageAsync(await Receive(), "First", "first time");
        var dlq = client.CreateReceiver(queue, new ServiceBusReceiverOptions { SubQueue = SubQueue.DeadLetter });
        var dead = await dlq.ReceiveMessageAsync(wait) ?? throw new InvalidOperationException("nothing in the dead-letter queue");
        string refusal;
        try
        {
            await dlq.DeadLetterMessageAsync(dead, "Second", "second time");
            throw new InvalidOperationException("dead-lettering a dead-lettered message succeeded");
        }
        catch (Exception e) when (e is not InvalidOperationException { Message: "dead-lettering a dead-lettered message succeeded" })
        {
            refusal = $"{e.GetType().Name}";
        }
        var kept = await dlq.ReceiveMessageAsync(wait) ?? throw new InvalidOperationException("the refused message is gone");
        await dlq.CompleteMessageAsync(kept);
        return $"refused with {refusal}, kept";
    });

    await Check(route, "defer", async () =>
    {
        await sender.SendMessageAsync(new ServiceBusMessage("later"));
        var m = await Receive();
        await receiver.DeferMessageAsync(m);
        var deferred = await receiver.ReceiveDeferredMessageAsync(m.SequenceNumber);
        Expect(deferred.State == ServiceBusMessageState.Deferred && deferred.Body.ToString() == "later", "state Deferred");
        Expect(deferred.DeliveryCount == 2, $"DeliveryCount 2 after a deferral, got {deferred.DeliveryCount}");
        await receiver.CompleteMessageAsync(deferred);
        return $"state {deferred.State}, deliveryCount {deferred.DeliveryCount}";
    });

    await Check(route, "peek-includes-locked", async () =>
    {
        await sender.SendMessagesAsync(new[] { new ServiceBusMessage("a"), new ServiceBusMessage("b") });
        var held = await Receive();
        var peeked = await client.CreateReceiver(queue).PeekMessagesAsync(10);
        Expect(peeked.Any(p => p.SequenceNumber == held.SequenceNumber) && peeked.Count == 2, "both messages, the locked one too");
        await receiver.CompleteMessageAsync(held);
        await receiver.CompleteMessageAsync(await Receive());
        return $"peeked {peeked.Count}";
    });

    await Check(route, "schedule-and-cancel", async () =>
    {
        var seq = await sender.ScheduleMessageAsync(new ServiceBusMessage("scheduled"), DateTimeOffset.UtcNow.AddSeconds(1));
        var cancelled = await sender.ScheduleMessageAsync(new ServiceBusMessage("never"), DateTimeOffset.UtcNow.AddHours(1));
        await sender.CancelScheduledMessageAsync(cancelled);
        var m = await Receive();
        Expect(m.SequenceNumber == seq && m.State == ServiceBusMessageState.Scheduled, $"the scheduled message, state Scheduled (got {m.State})");
        await receiver.CompleteMessageAsync(m);
        Expect(await receiver.ReceiveMessageAsync(TimeSpan.FromMilliseconds(300)) is null, "the cancelled one never arrives");
        return $"seq {seq}, state {m.State}";
    });

    await Check(route, "renew-lock", async () =>
    {
        await sender.SendMessageAsync(new ServiceBusMessage("renew"));
        var m = await Receive();
        var before = m.LockedUntil;
        await Task.Delay(1100);
        await receiver.RenewMessageLockAsync(m);
        Expect(m.LockedUntil > before, "a later locked-until");
        await receiver.CompleteMessageAsync(m);
        return $"locked until {m.LockedUntil:O}";
    });

    await Check(route, "receive-and-delete-and-batch", async () =>
    {
        using var batch = await sender.CreateMessageBatchAsync();
        foreach (var body in new[] { "1", "2", "3" }) Expect(batch.TryAddMessage(new ServiceBusMessage(body)), "room in the batch");
        await sender.SendMessagesAsync(batch);
        var rad = client.CreateReceiver(queue, new ServiceBusReceiverOptions { ReceiveMode = ServiceBusReceiveMode.ReceiveAndDelete });
        var got = new List<ServiceBusReceivedMessage>();
        while (got.Count < 3)
        {
            var some = await rad.ReceiveMessagesAsync(3 - got.Count, wait);
            if (some.Count == 0) break;
            got.AddRange(some);
        }
        Expect(string.Join(",", got.Select(m => m.Body.ToString())) == "1,2,3", "the batch in order");
        Expect(await receiver.ReceiveMessageAsync(TimeSpan.FromMilliseconds(300)) is null, "nothing left");
        return $"{got.Count} messages";
    });

    await Check(route, "application-property-types", async () =>
    {
        var sent = new Dictionary<string, object>
        {
            ["string"] = "text", ["bool"] = true, ["byte"] = (byte)200, ["sbyte"] = (sbyte)-7, ["short"] = (short)-7,
            ["ushort"] = (ushort)60000, ["int"] = 7, ["uint"] = 7u, ["long"] = 7L, ["ulong"] = 7ul, ["float"] = 1.5f,
            ["double"] = 3.0, ["decimal"] = 3.25m, ["char"] = 'x', ["guid"] = Guid.NewGuid(),
            ["datetime"] = new DateTime(2024, 1, 2, 3, 4, 5, DateTimeKind.Utc),
            ["datetimeoffset"] = new DateTimeOffset(2024, 1, 2, 3, 4, 5, TimeSpan.Zero),
            ["timespan"] = TimeSpan.FromMinutes(90), ["uri"] = new Uri("https://example.org/x"),
        };
        var message = new ServiceBusMessage("typed");
        foreach (var (k, v) in sent) message.ApplicationProperties[k] = v;
        await sender.SendMessageAsync(message);
        var m = await Receive();
        var wrong = sent
            .Where(kv => !m.ApplicationProperties.TryGetValue(kv.Key, out var got) || got?.GetType() != kv.Value.GetType() || !Equals(got, kv.Value))
            .Select(kv => $"{kv.Key}: sent {kv.Value.GetType().Name} {kv.Value}, got {(m.ApplicationProperties.TryGetValue(kv.Key, out var g) ? $"{g?.GetType().Name} {g}" : "nothing")}")
            .ToList();
        await receiver.CompleteMessageAsync(m);
        Expect(wrong.Count == 0, string.Join("; ", wrong));
        return $"{sent.Count} types round-tripped";
    });

    await Check(route, "amqp-body-types", async () =>
    {
        var value = new ServiceBusMessage(new AmqpAnnotatedMessage(AmqpMessageBody.FromValue(42L)));
        var sequence = new ServiceBusMessage(new AmqpAnnotatedMessage(AmqpMessageBody.FromSequence(new[] { (IList<object>)new List<object> { 1, "two" } })));
        var data = new ServiceBusMessage(BinaryData.FromBytes(new byte[] { 0, 1, 2, 255 }));
        await sender.SendMessagesAsync(new[] { value, sequence, data });
        var got = new List<ServiceBusReceivedMessage> { await Receive(), await Receive(), await Receive() };
        var body0 = got[0].GetRawAmqpMessage().Body;
        Expect(body0.TryGetValue(out var v) && v is long l && l == 42, "an amqp-value long");
        Expect(got[1].GetRawAmqpMessage().Body.TryGetSequence(out var seqs) && seqs.First()[0] is int && (string)seqs.First()[1] == "two", "an amqp-sequence [int, string]");
        Expect(got[2].Body.ToArray().SequenceEqual(new byte[] { 0, 1, 2, 255 }), "data bytes as sent");
        foreach (var m in got) await receiver.CompleteMessageAsync(m);
        return "value, sequence and data bodies as sent";
    });

    await Check(route, "session-receiver-refused", async () =>
    {
        try
        {
            await client.AcceptNextSessionAsync(queue);
        }
        catch (Exception e)
        {
            Expect(e.Message.Contains("sessionful message receiver cannot be created"), $"Azure's refusal text, got {e.Message}");
            return e.GetType().Name;
        }
        throw new InvalidOperationException("a session receiver was accepted on a queue without sessions");
    });

    await Check(route, "session-accept-next-state-complete", async () =>
    {
        var sessionSender = client.CreateSender(sessionQueue);
        try
        {
            await sessionSender.SendMessageAsync(new ServiceBusMessage("no session"));
            throw new InvalidOperationException("a message without a session id was accepted by a session queue");
        }
        catch (InvalidOperationException e) when (e.Message.Contains("The SessionId was not set on a message"))
        {
        }
        await sessionSender.SendMessagesAsync(new[]
        {
            new ServiceBusMessage("first") { SessionId = "order-1" },
            new ServiceBusMessage("second") { SessionId = "order-1" },
        });
        await using var session = await client.AcceptNextSessionAsync(sessionQueue);
        Expect(session.SessionId == "order-1", $"session order-1, got {session.SessionId}");
        Expect(session.SessionLockedUntil > DateTimeOffset.UtcNow.AddSeconds(3), $"locked for LockDuration, until {session.SessionLockedUntil:O}");
        Expect(await session.GetSessionStateAsync() is null, "no state at first");
        await session.SetSessionStateAsync(BinaryData.FromString("step-1"));
        Expect((await session.GetSessionStateAsync())?.ToString() == "step-1", "the state set");
        var got = new List<ServiceBusReceivedMessage>();
        while (got.Count < 2)
        {
            var batch = await session.ReceiveMessagesAsync(2 - got.Count, wait);
            if (batch.Count == 0) break;
            got.AddRange(batch);
        }
        Expect(got.Select(m => m.Body.ToString()).SequenceEqual(new[] { "first", "second" }), "both, in order");
        Expect(got.All(m => m.SessionId == "order-1"), "the session id on each message");
        foreach (var m in got) await session.CompleteMessageAsync(m);
        await session.RenewSessionLockAsync();
        try
        {
            await using var second = await client.AcceptSessionAsync(sessionQueue, "order-1");
            throw new InvalidOperationException("a second receiver locked a locked session");
        }
        catch (ServiceBusException e) when (e.Reason == ServiceBusFailureReason.SessionCannotBeLocked)
        {
        }
        await session.SetSessionStateAsync(null);
        return $"order-1 locked until {session.SessionLockedUntil:O}, state kept, 2 completed in order, a second accept refused";
    });
}

await Check("managed-identity-tls", "no-role-refused-at-once", async () =>
{
    await using var worker = ManagedIdentity(Need("AZURE_CLIENT_ID"));
    var started = DateTimeOffset.UtcNow;
    try
    {
        await worker.CreateSender(Need("SERVICEBUS_ENTITIES")).SendMessageAsync(new ServiceBusMessage("not allowed"));
    }
    catch (UnauthorizedAccessException e)
    {
        Expect(e.Message.Contains("'Send' claim(s) are required"), $"the claim named, got {e.Message}");
        return $"UnauthorizedAccessException after {(DateTimeOffset.UtcNow - started).TotalMilliseconds:0} ms";
    }
    throw new InvalidOperationException("the worker identity could send");
});

return failures == 0 ? 0 : 1;
