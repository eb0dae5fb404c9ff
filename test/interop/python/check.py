"""Microsoft's Python Service Bus client (azure-servicebus 7.15, pyamqp; azure-identity 1.27) against `keyless stack`.

Run by test/interop/python.test.ts with the stack's environment; prints one JSON line per check
{route, check, ok, detail} and exits 1 when any failed.
"""

import datetime
import json
import os
import time
import uuid

from azure.identity import ManagedIdentityCredential
from azure.servicebus import (
    NEXT_AVAILABLE_SESSION,
    ServiceBusClient,
    ServiceBusMessage,
    ServiceBusMessageState,
    ServiceBusReceiveMode,
    ServiceBusSubQueue,
    TransportType,
)

env = os.environ
failures = 0


def check(route, name, body):
    global failures
    try:
        detail, ok = body(), True
    except Exception as e:  # noqa: BLE001 - every failure is reported, none stops the run
        detail, ok = f"{type(e).__name__}: {e}", False
        failures += 1
    print(json.dumps({"route": route, "check": name, "ok": ok, "detail": str(detail)}), flush=True)


def expect(condition, what):
    if not condition:
        raise AssertionError(f"expected {what}")


def connection_string():
    return ServiceBusClient.from_connection_string(env["SERVICEBUS_CONNECTION_STRING"], retry_total=0)


def managed_identity(client_id):
    # With TLS the client drops the port from the namespace: name the endpoint, and trust the dev CA explicitly.
    host_and_port = env["SERVICEBUS_FULLY_QUALIFIED_NAMESPACE"]
    return ServiceBusClient(
        fully_qualified_namespace=host_and_port.split(":")[0],
        credential=ManagedIdentityCredential(client_id=client_id),
        custom_endpoint_address=f"sb://{host_and_port}",
        connection_verify=env["KEYLESS_CA_CERTS"],
        transport_type=TransportType.Amqp,
        retry_total=0,
    )


def run_route(route, client, queue):
    with client:
        sender = client.get_queue_sender(queue)
        receiver = client.get_queue_receiver(queue, max_wait_time=5)

        def receive():
            got = receiver.receive_messages(max_message_count=1, max_wait_time=5)
            if not got:
                raise AssertionError("no message received")
            return got[0]

        def send_receive_complete():
            sender.send_messages(ServiceBusMessage("hello", message_id="m-1"))
            m = receive()
            expect(str(m) == "hello" and m.message_id == "m-1", "body and message id as sent")
            receiver.complete_message(m)
            expect(not receiver.receive_messages(max_wait_time=0.5), "nothing left after complete")
            return f"seq {m.sequence_number}"

        def abandon():
            sender.send_messages(ServiceBusMessage("abandon me"))
            m = receive()
            receiver.abandon_message(m)
            again = receive()
            expect(again.sequence_number == m.sequence_number, "the same message again")
            expect(again.delivery_count == m.delivery_count + 1, f"delivery count + 1, got {again.delivery_count}")
            receiver.complete_message(again)
            return f"delivery_count {m.delivery_count} -> {again.delivery_count}"

        def dead_letter():
            sender.send_messages(ServiceBusMessage("poison"))
            receiver.dead_letter_message(receive(), reason="InvalidPayload", error_description="no lines")
            with client.get_queue_receiver(queue, sub_queue=ServiceBusSubQueue.DEAD_LETTER, max_wait_time=5) as dlq:
                (dead,) = dlq.receive_messages(max_message_count=1, max_wait_time=5)
                expect(dead.dead_letter_reason == "InvalidPayload", "the reason")
                expect(dead.dead_letter_error_description == "no lines", "the description")
                dlq.complete_message(dead)
            return f"{dead.dead_letter_reason}: {dead.dead_letter_error_description}"

        def defer():
            sender.send_messages(ServiceBusMessage("later"))
            m = receive()
            receiver.defer_message(m)
            (deferred,) = receiver.receive_deferred_messages([m.sequence_number])
            expect(deferred.state == ServiceBusMessageState.DEFERRED, "state DEFERRED")
            expect(deferred.delivery_count == m.delivery_count + 1, f"the deferral counted, got {deferred.delivery_count}")
            receiver.complete_message(deferred)
            return f"state {deferred.state}, delivery_count {deferred.delivery_count}"

        def peek_includes_locked():
            sender.send_messages([ServiceBusMessage("a"), ServiceBusMessage("b")])
            held = receive()
            with client.get_queue_receiver(queue) as peeker:
                peeked = peeker.peek_messages(max_message_count=10)
            expect(len(peeked) == 2 and any(p.sequence_number == held.sequence_number for p in peeked), "both, the locked one too")
            receiver.complete_message(held)
            receiver.complete_message(receive())
            return f"peeked {len(peeked)}"

        def schedule_and_cancel():
            now = datetime.datetime.now(datetime.timezone.utc)
            (seq,) = sender.schedule_messages(ServiceBusMessage("scheduled"), now + datetime.timedelta(seconds=1))
            (never,) = sender.schedule_messages(ServiceBusMessage("never"), now + datetime.timedelta(hours=1))
            sender.cancel_scheduled_messages(never)
            m = receive()
            expect(m.sequence_number == seq and m.state == ServiceBusMessageState.SCHEDULED, f"state SCHEDULED, got {m.state}")
            receiver.complete_message(m)
            return f"seq {seq}, state {m.state}"

        def renew_lock():
            sender.send_messages(ServiceBusMessage("renew"))
            m = receive()
            before = m.locked_until_utc
            time.sleep(1.1)
            after = receiver.renew_message_lock(m)
            expect(after > before, "a later locked-until")
            receiver.complete_message(m)
            return f"locked until {after.isoformat()}"

        def receive_and_delete():
            sender.send_messages([ServiceBusMessage(b) for b in ("1", "2", "3")])
            got = []
            with client.get_queue_receiver(queue, receive_mode=ServiceBusReceiveMode.RECEIVE_AND_DELETE) as rad:
                while len(got) < 3:
                    batch = rad.receive_messages(max_message_count=3 - len(got), max_wait_time=5)
                    if not batch:
                        break
                    got += batch
            expect([str(m) for m in got] == ["1", "2", "3"], "the three in order")
            return f"{len(got)} messages"

        def property_types():
            when = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
            an_id = uuid.uuid4()
            # name: (sent, what pyamqp gives back when the AMQP type is kept: strings come back as bytes and
            # timestamps as milliseconds in pyamqp; bool, double and uuid are the ones the issue saw lost)
            cases = {
                "string": ("text", b"text"),
                "true": (True, True),
                "int": (7, 7),
                "negative": (-7, -7),
                "double": (3.0, 3.0),
                "uuid": (an_id, an_id),
                "binary": (b"\x00\x01", b"\x00\x01"),
                "timestamp": (when, int(when.timestamp() * 1000)),
            }
            sender.send_messages(
                ServiceBusMessage("typed", application_properties={k: sent for k, (sent, _) in cases.items()})
            )
            m = receive()
            props = {(k.decode() if isinstance(k, bytes) else k): v for k, v in (m.application_properties or {}).items()}
            wrong = [
                f"{k}: expected {type(want).__name__} {want!r}, got {type(props.get(k)).__name__} {props.get(k)!r}"
                for k, (_, want) in cases.items()
                if type(props.get(k)) is not type(want) or props.get(k) != want
            ]
            receiver.complete_message(m)
            expect(not wrong, "; ".join(wrong))
            return f"{len(cases)} types round-tripped"

        def session_refused():
            try:
                with client.get_queue_receiver(queue, session_id=NEXT_AVAILABLE_SESSION, max_wait_time=2) as s:
                    s.receive_messages(max_wait_time=2)
            except Exception as e:  # noqa: BLE001
                expect("sessionful message receiver cannot be created" in str(e), f"Azure's refusal text, got {e}")
                return type(e).__name__
            raise AssertionError("a session receiver was accepted on a queue without sessions")

        for name, body in [
            ("send-receive-complete", send_receive_complete),
            ("abandon", abandon),
            ("dead-letter", dead_letter),
            ("defer", defer),
            ("peek-includes-locked", peek_includes_locked),
            ("schedule-and-cancel", schedule_and_cancel),
            ("renew-lock", renew_lock),
            ("receive-and-delete-and-batch", receive_and_delete),
            ("application-property-types", property_types),
            ("session-receiver-refused", session_refused),
        ]:
            check(route, name, body)
        receiver.close()
        sender.close()


run_route("connection-string", connection_string(), env["INTEROP_QUEUE_CS"])
run_route("managed-identity-tls", managed_identity(env["KEYLESS_ADMIN_CLIENT_ID"]), env["INTEROP_QUEUE_MI"])


def no_role_refused():
    started = time.monotonic()
    with managed_identity(env["AZURE_CLIENT_ID"]) as worker:
        try:
            with worker.get_queue_sender(env["SERVICEBUS_ENTITIES"]) as s:
                s.send_messages(ServiceBusMessage("not allowed"))
        except Exception as e:  # noqa: BLE001
            expect("'Send' claim(s) are required" in str(e), f"the claim named, got {e}")
            return f"{type(e).__name__} after {(time.monotonic() - started) * 1000:.0f} ms"
    raise AssertionError("the worker identity could send")


check("managed-identity-tls", "no-role-refused-at-once", no_role_refused)
raise SystemExit(1 if failures else 0)
