#!/usr/bin/python3
"""/metrics and /healthz of a real evenhandd, read as Prometheus and a load
balancer would: the exposition parsed by Prometheus' own Python parser
(Debian's python3-prometheus-client, not ours) during an 8-client append
load, its counters moving; /healthz agreeing with gRPC health; JSON log
lines with request ids.

  /usr/bin/python3 tests/server/metrics_test.py --evenhandd PATH --proto_dir DIR
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
import uuid

from prometheus_client.parser import text_string_to_metric_families

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "testing"))
sys.path.insert(0, os.path.join(HERE, "..", "clients"))
from child_server import ChildServer  # noqa: E402
from python_client_test import generate_stubs  # noqa: E402

ARGS = None


def scrape(address):
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as r:
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers
        text = r.read().decode()
    samples = {}
    families = {}
    for family in text_string_to_metric_families(text):
        families[family.name] = family
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return families, samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


class Metrics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="evenhand-metrics-")
        gen = os.path.join(cls.tmp, "gen")
        generate_stubs(ARGS.proto_dir, gen)
        subprocess.run(["protoc", f"--proto_path={ARGS.proto_dir}", f"--python_out={gen}",
                        f"--grpc_python_out={gen}",
                        "--plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin",
                        os.path.join(ARGS.proto_dir, "evenhand", "v1", "audit.proto"),
                        os.path.join(ARGS.proto_dir, "evenhand", "v1", "operations.proto")],
                       check=True)
        global grpc, events_pb2, log_pb2, log_pb2_grpc, health_pb2, health_pb2_grpc
        global operations_pb2, operations_pb2_grpc
        import grpc
        from evenhand.v1 import events_pb2, log_pb2, log_pb2_grpc
        from evenhand.v1 import operations_pb2, operations_pb2_grpc
        import health_pb2, health_pb2_grpc
        cls.data = os.path.join(cls.tmp, "data")
        cls.server = ChildServer(ARGS.evenhandd, cls.data)
        with open(cls.data + ".log") as f:
            for line in f:
                if "metrics on http://" in line:
                    cls.metrics = line.split("metrics on http://")[1].split("/metrics")[0]
                    break
        cls.channel = grpc.insecure_channel(cls.server.address)
        # Before any call: what a scrape shows of a server that has served
        # nothing yet.
        _, cls.at_start = scrape(cls.metrics)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.server.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def append_load(self, clients=8, each=40, name="m"):
        errors = []

        def run(c):
            stub = log_pb2_grpc.EventLogStub(self.channel)
            for i in range(each):
                event = events_pb2.Event(event_id=str(uuid.uuid4()), type="OfficerRegistered",
                                         source_system="metrics-test")
                event.payload.officer_registered.officer_id = f"o-{name}{c}x{i}"
                event.payload.officer_registered.name = f"Officer {c}.{i}"
                event.payload.officer_registered.role = events_pb2.OFFICER
                event.occurred_at.GetCurrentTime()
                request = log_pb2.AppendRequest(stream_id=f"officer-o-{name}{c}x{i}",
                                                events=[event])
                try:
                    stub.Append(request, timeout=30,
                                metadata=[("x-request-id", f"load-{c}-{i}")])
                except grpc.RpcError as e:
                    errors.append(e)

        threads = [threading.Thread(target=run, args=(c,)) for c in range(clients)]
        for t in threads:
            t.start()
        return threads, errors

    def test_counters_move_under_load_and_parse_as_prometheus(self):
        _, before = scrape(self.metrics)
        threads, errors = self.append_load()
        # Scraped while the load runs: it must parse mid-flight too.
        families, during = scrape(self.metrics)
        for t in threads:
            t.join()
        self.assertEqual(errors, [], errors[:1])
        families, after = scrape(self.metrics)
        appended = value(after, "evenhand_events_appended_total") - \
            value(before, "evenhand_events_appended_total")
        self.assertGreaterEqual(appended, 8 * 40)
        ok = value(after, "evenhand_append_requests_total", code="OK") - \
            value(before, "evenhand_append_requests_total", code="OK")
        self.assertEqual(ok, 8 * 40)
        self.assertGreater(value(after, "evenhand_event_bytes_appended_total"),
                           value(before, "evenhand_event_bytes_appended_total"))
        # Histograms: counts grow, buckets are cumulative and end at +Inf.
        fsyncs = value(after, "evenhand_fsync_duration_seconds_count", status="ok")
        self.assertGreater(fsyncs, value(before, "evenhand_fsync_duration_seconds_count",
                                         status="ok"))
        self.assertEqual(value(after, "evenhand_fsync_duration_seconds_bucket", status="ok",
                               le="+Inf"), fsyncs)
        self.assertEqual(families["evenhand_append_duration_seconds"].type, "histogram")
        self.assertEqual(families["evenhand_group_commit_events"].type, "histogram")
        self.assertEqual(value(after, "evenhand_log_last_position"),
                         value(after, "evenhand_events_appended_total"))
        for name in ("evenhand_subscribers", "evenhand_projection_lag_events",
                     "evenhand_unsigned_events", "evenhand_disk_free_bytes",
                     "evenhand_rocksdb_write_stopped", "evenhand_rocksdb_running_compactions",
                     "evenhand_rocksdb_sst_bytes", "evenhand_access_denials",
                     "evenhand_healthy", "evenhand_build_info"):
            self.assertTrue(name in families, name)
        self.assertEqual(value(after, "evenhand_healthy"), 1)
        self.assertGreater(value(after, "evenhand_disk_free_bytes"), 0)

    def settled(self):
        """The samples once the fold has taken in the whole log and
        checkpointed it (a second with no event), or after 20 s."""
        for _ in range(100):
            families, now = scrape(self.metrics)
            if value(now, "evenhand_projection_unsaved_events") == 0 and \
                    value(now, "evenhand_projection_position") == \
                    value(now, "evenhand_log_last_position"):
                break
            time.sleep(0.2)
        return families, now

    def test_the_projections_checkpoints_are_counted(self):
        _, before = self.settled()
        threads, errors = self.append_load(clients=2, each=20, name="k")
        for t in threads:
            t.join()
        self.assertEqual(errors, [], errors[:1])
        families, now = self.settled()
        self.assertEqual(value(now, "evenhand_projection_position"),
                         value(before, "evenhand_projection_position") + 2 * 20)
        self.assertEqual(value(now, "evenhand_projection_unsaved_events"), 0)
        self.assertGreater(value(now, "evenhand_projection_checkpoints_total"),
                           value(before, "evenhand_projection_checkpoints_total"))
        self.assertGreater(value(now, "evenhand_projection_checkpoint_bytes_total"),
                           value(before, "evenhand_projection_checkpoint_bytes_total"))
        self.assertGreater(value(now, "evenhand_projection_checkpoint_seconds_total"),
                           value(before, "evenhand_projection_checkpoint_seconds_total"))
        self.assertEqual(families["evenhand_projection_checkpoints"].type, "counter")

    def test_every_metric_of_the_grafana_dashboard_is_served(self):
        import re
        with open(ARGS.dashboard) as f:
            dashboard = json.load(f)
        exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
        names = set(re.findall(r"evenhand_[a-z_]+", " ".join(exprs)))
        self.assertGreater(len(names), 15)
        # Served from the start, at 0 before the first event, so that a rate
        # or a quantile can be taken at once; and after appends.
        for samples in (self.at_start, scrape(self.metrics)[1]):
            served = {name for name, _ in samples}
            for name in sorted(names):
                self.assertIn(name, served, f"the dashboard reads {name}, which /metrics lacks")
        self.assertEqual(value(self.at_start, "evenhand_append_requests_total", code="OK"), 0)
        self.assertEqual(value(self.at_start, "evenhand_events_appended_total"), 0)

    def test_healthz_agrees_with_grpc_health(self):
        stub = health_pb2_grpc.HealthStub(self.channel)
        status = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=10).status
        self.assertEqual(status, health_pb2.HealthCheckResponse.SERVING)
        with urllib.request.urlopen(f"http://{self.metrics}/healthz", timeout=10) as r:
            self.assertEqual(r.status, 200)
            self.assertEqual(r.read().decode().strip(), "SERVING")

    def test_other_paths_and_methods_are_refused(self):
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"http://{self.metrics}/nothing", timeout=10)
        self.assertEqual(e.exception.code, 404)
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(urllib.request.Request(
                f"http://{self.metrics}/metrics", data=b"x", method="POST"), timeout=10)
        self.assertEqual(e.exception.code, 405)

    def test_log_lines_are_json_with_request_ids(self):
        # A backup logs a line while its call is handled: it carries the id
        # the caller sent.
        stub = operations_pb2_grpc.OperationsStub(self.channel)
        stub.Backup(operations_pb2.BackupRequest(to=os.path.join(self.tmp, "backups")),
                    timeout=60, metadata=[("x-request-id", "req-metrics-test-1")])
        with open(self.data + ".log") as f:
            lines = [l for l in f.read().splitlines()
                     if not l.startswith("Even Hand is serving on")]  # stdout's one line
        self.assertTrue(lines)
        records = [json.loads(line) for line in lines]  # every line is one object
        backup_lines = [r for r in records if r.get("request_id") == "req-metrics-test-1"]
        self.assertTrue(any("backup 1 taken" in r["message"] for r in backup_lines), backup_lines)
        for record in records:
            self.assertIn(record["level"], ("info", "warning", "error"))
            self.assertTrue(record["time"].endswith("Z"))
            self.assertIn("component", record)
            self.assertIn("message", record)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--evenhandd", required=True)
    parser.add_argument("--proto_dir", required=True)
    parser.add_argument("--dashboard", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest)
