#!/usr/bin/python3
"""A Python client generated from the .proto files alone talks to evenhandd.

Other council systems integrate with Even Hand without our C++ library: this
test generates Python stubs from proto/evenhand/v1/*.proto with protoc and
Debian's grpc_python_plugin, starts a real evenhandd on 127.0.0.1 with a
temporary RocksDB folder, and appends, reads and follows events through them.
It also checks the standard health and reflection services. Everything goes
over mutual TLS, as a council system would connect: certificates from
scripts/make-certs, this client presenting its own.

Run with Debian's /usr/bin/python3 (python3-grpcio, python3-protobuf):
  /usr/bin/python3 tests/clients/python_client_test.py \
      --evenhandd build/server/evenhandd --proto_dir proto --make_certs scripts/make-certs
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

ARGS = None


def generate_stubs(proto_dir, out_dir):
    """Runs protoc for our protos and the standard health/reflection ones."""
    os.makedirs(out_dir, exist_ok=True)
    plugin = "--plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin"
    ours = [os.path.join(proto_dir, "evenhand", "v1", name)
            for name in ("events.proto", "log.proto")]
    subprocess.run(["protoc", f"--proto_path={proto_dir}", f"--python_out={out_dir}",
                    f"--grpc_python_out={out_dir}", plugin, *ours], check=True)
    # The standard services' folders go on the include path themselves, so the
    # generated modules do not create a "grpc" package shadowing grpcio.
    for folder, name in (("grpc/health/v1", "health.proto"),
                         ("grpc/reflection/v1alpha", "reflection.proto")):
        path = os.path.join("/usr/share/grpc-proto", folder)
        subprocess.run(["protoc", f"--proto_path={path}", f"--python_out={out_dir}",
                        f"--grpc_python_out={out_dir}", plugin, os.path.join(path, name)],
                       check=True)
    sys.path.insert(0, out_dir)


class EvenHandFromPython(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="evenhand-py-")
        generate_stubs(ARGS.proto_dir, os.path.join(cls.tmp, "gen"))
        global grpc, events_pb2, log_pb2, log_pb2_grpc, health_pb2, health_pb2_grpc
        global reflection_pb2, reflection_pb2_grpc
        import grpc
        from evenhand.v1 import events_pb2, log_pb2, log_pb2_grpc
        import health_pb2, health_pb2_grpc, reflection_pb2, reflection_pb2_grpc
        certs = os.path.join(cls.tmp, "certs")
        subprocess.run([ARGS.make_certs, certs], check=True, stdout=subprocess.DEVNULL)
        cls.certs = certs
        # This system is a publisher (python-test) and reads back what it
        # wrote (auditor), identified by its certificate's name.
        config = {"security": {
            "tls": {"certFile": f"{certs}/server.pem", "keyFile": f"{certs}/server.key",
                    "clientCaFile": f"{certs}/ca.pem"},
            "principals": [{"name": "python-test",
                            "certificateNames": ["case-system.demo.council"],
                            "roles": ["publisher:python-test", "auditor"]}],
            "publishers": [{"system": "python-test", "eventTypes": ["*"],
                            "streamKinds": ["*"]}]}}
        with open(os.path.join(cls.tmp, "config.json"), "w") as f:
            json.dump(config, f)
        ready = os.path.join(cls.tmp, "ready")
        cls.log = open(os.path.join(cls.tmp, "server.log"), "w")
        cls.server = subprocess.Popen(
            [ARGS.evenhandd, "--listen=127.0.0.1:0", f"--data_dir={cls.tmp}/data",
             f"--config={cls.tmp}/config.json", f"--ready_file={ready}"],
            stdout=cls.log, stderr=cls.log)
        deadline = time.time() + 20
        while not os.path.exists(ready):
            if time.time() > deadline or cls.server.poll() is not None:
                raise RuntimeError("evenhandd did not start")
            time.sleep(0.05)
        with open(ready) as f:
            cls.address = f.read().strip()
        cls.channel = grpc.secure_channel(cls.address, cls.credentials(with_certificate=True))
        cls.log_stub = log_pb2_grpc.EventLogStub(cls.channel)
        # The council systems would have registered these long before.
        member = events_pb2.Event(event_id=str(uuid.uuid4()), source_system="python-test")
        member.occurred_at.GetCurrentTime()
        member.payload.member_registered.member_id = "m-1"
        member.payload.member_registered.name = "Cllr One"
        cls.log_stub.Append(log_pb2.AppendRequest(stream_id="member-m-1", events=[member]))
        officer = events_pb2.Event(event_id=str(uuid.uuid4()), source_system="python-test")
        officer.occurred_at.GetCurrentTime()
        officer.payload.officer_registered.officer_id = "o-1"
        officer.payload.officer_registered.name = "Officer One"
        officer.payload.officer_registered.role = events_pb2.HEAD_OF_SERVICE
        cls.log_stub.Append(log_pb2.AppendRequest(stream_id="officer-o-1", events=[officer]))

    @classmethod
    def credentials(cls, with_certificate):
        def read(name):
            with open(os.path.join(cls.certs, name), "rb") as f:
                return f.read()
        if not with_certificate:
            return grpc.ssl_channel_credentials(root_certificates=read("ca.pem"))
        return grpc.ssl_channel_credentials(root_certificates=read("ca.pem"),
                                            private_key=read("case-system.key"),
                                            certificate_chain=read("case-system.pem"))

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.server.send_signal(signal.SIGTERM)
        code = cls.server.wait(timeout=30)
        cls.log.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        assert code == 0, f"evenhandd exited with {code}"

    def new_event(self, query_id):
        """A councillor's written query arriving."""
        event = events_pb2.Event(event_id=str(uuid.uuid4()), source_system="python-test")
        event.occurred_at.GetCurrentTime()
        event.payload.written_query_received.query_id = query_id
        event.payload.written_query_received.member_id = "m-1"
        event.payload.written_query_received.addressed_to_officer_id = "o-1"
        event.payload.written_query_received.subject = "Bin collections"
        return event

    def answer(self, query_id):
        event = events_pb2.Event(event_id=str(uuid.uuid4()), source_system="python-test")
        event.occurred_at.GetCurrentTime()
        event.payload.written_query_answered.query_id = query_id
        event.payload.written_query_answered.officer_id = "o-1"
        return event

    def test_append_then_read_stream(self):
        events = [self.new_event("Q-py-1"), self.answer("Q-py-1")]
        reply = self.log_stub.Append(log_pb2.AppendRequest(
            stream_id="query-Q-py-1", expected_state=log_pb2.NO_STREAM, events=events))
        self.assertEqual(len(reply.positions), 2)
        self.assertEqual(reply.stream_revision, 1)

        got = [e for chunk in self.log_stub.ReadStream(
            log_pb2.ReadStreamRequest(stream_id="query-Q-py-1")) for e in chunk.events]
        self.assertEqual([e.event.event_id for e in got], [e.event_id for e in events])
        self.assertEqual(got[0].event.type, "WrittenQueryReceived")
        self.assertEqual(got[0].event.payload.written_query_received.subject, "Bin collections")
        self.assertEqual(got[1].event.type, "WrittenQueryAnswered")
        self.assertEqual([e.position for e in got], list(reply.positions))

    def test_retry_is_idempotent(self):
        request = log_pb2.AppendRequest(stream_id="query-Q-py-2",
                                        events=[self.new_event("Q-py-2")])
        first = self.log_stub.Append(request)
        again = self.log_stub.Append(request)
        self.assertTrue(again.idempotent_replay)
        self.assertEqual(list(first.positions), list(again.positions))

    def test_wrong_expected_revision_is_failed_precondition(self):
        self.log_stub.Append(log_pb2.AppendRequest(
            stream_id="query-Q-py-3", events=[self.new_event("Q-py-3")]))
        with self.assertRaises(grpc.RpcError) as caught:
            self.log_stub.Append(log_pb2.AppendRequest(
                stream_id="query-Q-py-3", exact_revision=7, events=[self.answer("Q-py-3")]))
        self.assertEqual(caught.exception.code(), grpc.StatusCode.FAILED_PRECONDITION)
        self.assertIn("is at revision 0", caught.exception.details())

    def test_missing_field_is_invalid_argument_naming_it(self):
        event = self.new_event("Q-py-4")
        event.ClearField("occurred_at")
        with self.assertRaises(grpc.RpcError) as caught:
            self.log_stub.Append(log_pb2.AppendRequest(stream_id="query-Q-py-4", events=[event]))
        self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("events[0].occurred_at", caught.exception.details())

    def test_unknown_councillor_is_invalid_argument_naming_it(self):
        event = self.new_event("Q-py-5")
        event.payload.written_query_received.member_id = "m-nobody"
        with self.assertRaises(grpc.RpcError) as caught:
            self.log_stub.Append(log_pb2.AppendRequest(stream_id="query-Q-py-5", events=[event]))
        self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("written_query_received.member_id: unknown councillor",
                      caught.exception.details())

    def test_subscription_delivers_live_events(self):
        seen = []
        caught_up = threading.Event()
        done = threading.Event()
        call = self.log_stub.Subscribe(log_pb2.SubscribeRequest(
            from_end=True, filter=log_pb2.Filter(stream_prefixes=["query-Q-py-live"])))

        def follow():
            for message in call:
                if message.HasField("caught_up"):
                    caught_up.set()
                seen.extend(message.events.events)
                if len(seen) >= 3:
                    done.set()
                    return

        thread = threading.Thread(target=follow, daemon=True)
        thread.start()
        self.assertTrue(caught_up.wait(10))
        for event in (self.new_event("Q-py-live"), self.answer("Q-py-live"),
                      self.answer("Q-py-live")):
            self.log_stub.Append(log_pb2.AppendRequest(stream_id="query-Q-py-live",
                                                       events=[event]))
        self.assertTrue(done.wait(10))
        call.cancel()
        self.assertEqual([e.stream_revision for e in seen], [0, 1, 2])

    def test_without_a_client_certificate_it_is_refused(self):
        with grpc.secure_channel(self.address, self.credentials(with_certificate=False)) as ch:
            with self.assertRaises(grpc.RpcError) as caught:
                log_pb2_grpc.EventLogStub(ch).Append(log_pb2.AppendRequest(
                    stream_id="query-Q-py-anon", events=[self.new_event("Q-py-anon")]))
        self.assertEqual(caught.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
        self.assertIn("no client certificate and no bearer token", caught.exception.details())

    def test_plain_text_is_refused(self):
        with grpc.insecure_channel(self.address) as ch:
            with self.assertRaises(grpc.RpcError) as caught:
                log_pb2_grpc.EventLogStub(ch).GetStatus(log_pb2.GetStatusRequest(), timeout=10)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.UNAVAILABLE)

    def test_outside_its_lane_it_is_refused_naming_the_role(self):
        event = self.new_event("Q-py-lane")
        event.source_system = "case-system"
        with self.assertRaises(grpc.RpcError) as caught:
            self.log_stub.Append(log_pb2.AppendRequest(stream_id="query-Q-py-lane",
                                                       events=[event]))
        self.assertEqual(caught.exception.code(), grpc.StatusCode.PERMISSION_DENIED)
        self.assertIn("needs the role \"publisher:case-system\"", caught.exception.details())

    def test_health_and_reflection(self):
        health = health_pb2_grpc.HealthStub(self.channel)
        reply = health.Check(health_pb2.HealthCheckRequest())
        self.assertEqual(reply.status, health_pb2.HealthCheckResponse.SERVING)
        reflection = reflection_pb2_grpc.ServerReflectionStub(self.channel)
        answers = reflection.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        names = [s.name for a in answers for s in a.list_services_response.service]
        self.assertIn("evenhand.v1.EventLog", names)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--evenhandd", required=True)
    parser.add_argument("--proto_dir", required=True)
    parser.add_argument("--make_certs", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
