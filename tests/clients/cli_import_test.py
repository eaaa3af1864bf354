#!/usr/bin/python3
"""`evenhand import` against a real evenhandd: histories loaded in the order
what they name allows, interrupted and resumed, refused with reasons.

  /usr/bin/python3 tests/clients/cli_import_test.py --evenhandd PATH --evenhand PATH \
      --make_certs scripts/make-certs
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

ARGS = None
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testing"))
from child_server import ChildServer  # noqa: E402


def Server(data_dir, extra=()):
    """An evenhandd child on 127.0.0.1 with its data in `data_dir`."""
    return ChildServer(ARGS.evenhandd, data_dir, extra, timeout=20)


def refused_appends(data):
    """Appends the server at `data` refused as INVALID_ARGUMENT, from its /metrics."""
    import urllib.request
    with open(data + ".log") as f:
        address = re.search(r"metrics=http://([0-9.:]+)/metrics", f.read()).group(1)
    metrics = urllib.request.urlopen(f"http://{address}/metrics", timeout=30).read()
    return sum(int(n) for n in re.findall(
        r'evenhand_append_requests_total\{[^}]*code="INVALID_ARGUMENT"[^}]*\} (\d+)',
        metrics.decode()))


class EvenHandImport(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="evenhand-import-")
        cls.server = Server(os.path.join(cls.tmp, "data"), ["--demo"])

    @classmethod
    def tearDownClass(cls):
        assert cls.server.stop() == 0
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def cli(self, *args, stdin=None, check=True):
        result = subprocess.run([ARGS.evenhand, f"--server={self.server.address}", *args],
                                input=stdin, capture_output=True, text=True, timeout=30)
        if check:
            self.assertEqual(result.returncode, 0, result.stderr)
        return result

    def test_import_a_year_interrupted_and_resumed_records_every_event_once(self):
        # A council year from another system: the demo's events, one per
        # line with their stream and id, imported into a fresh server.
        history = os.path.join(self.tmp, "history.jsonl")
        events = []
        for line in self.cli("read", "--all", "--format=json").stdout.splitlines():
            event = json.loads(line)["event"]
            if event["streamId"].startswith("access-"):
                continue  # the server's own records of reads
            events.append(event)
        # Newest first in the file for one stream would break its order:
        # keep the log's order.
        with open(history, "w") as f:
            for event in events:
                f.write(json.dumps(event) + "\n")
        streams = {e["streamId"] for e in events}
        self.assertGreater(len(streams), 30)
        data = os.path.join(self.tmp, "import-target")
        target = Server(data, ["--metrics_listen=127.0.0.1:0"])
        try:
            command = [ARGS.evenhand, f"--server={target.address}", "import", history,
                       "--batch=1", "--parallel=2", "--progress=always"]
            # Interrupted with SIGINT about half way.
            first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
            deadline = time.time() + 60
            while time.time() < deadline and first.poll() is None:
                status = subprocess.run([ARGS.evenhand, f"--server={target.address}", "status"],
                                        capture_output=True, text=True).stdout
                last = [l for l in status.splitlines() if l.startswith("last position")]
                if last and int(last[0].split()[-1]) > len(events) // 2:
                    break
                time.sleep(0.05)
            first.send_signal(signal.SIGINT)
            _, err = first.communicate(timeout=30)
            self.assertNotEqual(first.returncode, 0, "the first run was interrupted half way")
            self.assertRegex(err, r"importing \[#*\.*\] +\d+%  \d+ of \d+ positions")
            # Run again: it finishes, adding nothing twice.
            # (With other batches: a batch partly recorded goes event by event.)
            second = subprocess.run([ARGS.evenhand, f"--server={target.address}", "import",
                                     history, "--batch=7", "--parallel=16"],
                                    capture_output=True, text=True, timeout=300)
            self.assertEqual(second.returncode, 0, second.stderr)
            # Requests name the offers they answer, offers the requests that
            # prompted them: each went after what it names, so the server
            # refused none.
            self.assertEqual(refused_appends(data), 0)
            self.assertIn(f"imported {len(events)} events in {len(streams)} streams",
                          second.stdout)
            new, old = map(int, re.search(r"(\d+) new, (\d+) already", second.stdout).groups())
            self.assertEqual(new + old, len(events))
            self.assertGreater(old, 0, "the first run's events are not counted as new")
            got = [e["eventId"] for e in (json.loads(l)["event"] for l in subprocess.run(
                [ARGS.evenhand, f"--server={target.address}", "read", "--all", "--format=json"],
                capture_output=True, text=True, check=True).stdout.splitlines())
                   if not e["streamId"].startswith("access-")]
            self.assertEqual(sorted(got), sorted(e["eventId"] for e in events))
        finally:
            target.stop()

    def test_import_untangles_streams_that_need_each_other(self):
        # A founding member who later leaves: member-a's second event needs
        # group-g, which needs member-a's first. Batches of the whole stream
        # would each wait for the other forever.
        ids = iter(f"5e0c1f52-0a52-4f43-9b61-1d4b6c1a{n:04d}" for n in range(1, 100))
        at = "2026-03-02T10:00:00Z"
        lines = [
            {"streamId": "member-imp-a", "eventId": next(ids), "occurredAt": at,
             "sourceSystem": "old-system",
             "payload": {"memberRegistered": {"memberId": "imp-a", "name": "Cllr A"}}},
            {"streamId": "member-imp-a", "eventId": next(ids), "occurredAt": "2026-05-04T10:00:00Z",
             "sourceSystem": "old-system",
             "payload": {"memberLeftGroup": {"memberId": "imp-a", "groupId": "imp-g"}}},
            {"streamId": "member-imp-b", "eventId": next(ids), "occurredAt": at,
             "sourceSystem": "old-system",
             "payload": {"memberRegistered": {"memberId": "imp-b", "name": "Cllr B"}}},
            {"streamId": "group-imp-g", "eventId": next(ids), "occurredAt": "2026-03-03T10:00:00Z",
             "sourceSystem": "old-system",
             "payload": {"politicalGroupRecognised": {"groupId": "imp-g", "name": "Imported Group",
                                                      "memberIds": ["imp-a", "imp-b"]}}},
        ]
        history = os.path.join(self.tmp, "tangled.jsonl")
        with open(history, "w") as f:
            for line in lines:
                f.write(json.dumps(line) + "\n")
        target = Server(os.path.join(self.tmp, "import-tangled"))
        try:
            result = subprocess.run([ARGS.evenhand, f"--server={target.address}", "import",
                                     history], capture_output=True, text=True, timeout=60)
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertIn("imported 4 events in 3 streams", result.stdout)
        finally:
            target.stop()

    def test_import_names_a_stream_neither_the_file_nor_the_server_holds(self):
        # A query to an officer recorded nowhere: the councillor and the
        # rest go in, the query is refused once, and the import says which
        # stream is missing (exit 3), never loops or claims success.
        ids = iter(f"7a0c1f52-0a52-4f43-9b61-1d4b6c1a{n:04d}" for n in range(1, 100))
        at = "2026-03-02T10:00:00Z"
        lines = [
            {"streamId": "query-nx-1", "eventId": next(ids), "occurredAt": at,
             "sourceSystem": "old-system",
             "payload": {"writtenQueryReceived": {"queryId": "nx-1", "memberId": "nx-m",
                                                  "addressedToOfficerId": "nx-nobody",
                                                  "subject": "Bins"}}},
            {"streamId": "member-nx-m", "eventId": next(ids), "occurredAt": at,
             "sourceSystem": "old-system",
             "payload": {"memberRegistered": {"memberId": "nx-m", "name": "Cllr N"}}},
        ]
        history = os.path.join(self.tmp, "names-nowhere.jsonl")
        with open(history, "w") as f:
            for line in lines:
                f.write(json.dumps(line) + "\n")
        data = os.path.join(self.tmp, "import-nowhere")
        target = Server(data, ["--metrics_listen=127.0.0.1:0"])
        try:
            result = subprocess.run([ARGS.evenhand, f"--server={target.address}", "import",
                                     "--parallel=4", history],
                                    capture_output=True, text=True, timeout=60)
            self.assertEqual(result.returncode, 3, result.stderr)
            self.assertIn("1 stream(s) could not be recorded: each names what neither the file "
                          "nor the server holds, or streams whose first events name each other; "
                          "e.g. query-nx-1",
                          result.stderr)
            self.assertIn('unknown officer "nx-nobody"', result.stderr)
            self.assertEqual(refused_appends(data), 1)
            status = subprocess.run([ARGS.evenhand, f"--server={target.address}", "status"],
                                    capture_output=True, text=True, check=True).stdout
            self.assertRegex(status, r"last position +1\n")
        finally:
            target.stop()

    def test_import_of_streams_naming_each_other_ends_and_corrections_follow_their_events(self):
        # A request answering an offer that was prompted by that very
        # request: neither can be recorded first. Both are tried once, the
        # server says what is missing, and the import ends (exit 3), never
        # loops. A correction after its event, in one stream: the
        # correction goes in a batch after the event it corrects.
        ids = iter(f"8b0c1f52-0a52-4f43-9b61-1d4b6c1a{n:04d}" for n in range(1, 100))
        at = "2026-03-02T10:00:00Z"
        answered = next(ids)
        lines = [
            {"streamId": "briefing-cyc-x", "eventId": next(ids), "occurredAt": at,
             "sourceSystem": "old-system",
             "payload": {"briefingRequested": {
                 "briefingId": "cyc-x", "groupId": "green", "topic": "Parks",
                 "matterId": "parks", "requestedByMemberId": "green-1",
                 "routedToOfficerId": "o-ceo", "inResponseToOfferId": "cyc-y"}}},
            {"streamId": "briefing-cyc-y", "eventId": next(ids), "occurredAt": at,
             "sourceSystem": "old-system",
             "payload": {"briefingOffered": {
                 "offerId": "cyc-y", "groupId": "labour", "topic": "Parks", "matterId": "parks",
                 "offeredByOfficerId": "o-ceo", "promptedByBriefingId": "cyc-x"}}},
        ]
        corrections = [
            {"streamId": "query-cor-1", "eventId": next(ids), "occurredAt": at,
             "sourceSystem": "old-system",
             "payload": {"writtenQueryReceived": {"queryId": "cor-1", "memberId": "green-1",
                                                  "addressedToOfficerId": "o-ceo",
                                                  "subject": "Bins"}}},
            {"streamId": "query-cor-1", "eventId": answered, "occurredAt": at,
             "sourceSystem": "old-system",
             "payload": {"writtenQueryAnswered": {"queryId": "cor-1", "officerId": "o-ceo"}}},
            {"streamId": "query-cor-1", "eventId": next(ids), "occurredAt": at,
             "sourceSystem": "old-system",
             "payload": {"eventCorrected": {"correctedEventId": answered,
                                            "reason": "sent to the wrong councillor"}}},
        ]
        data = os.path.join(self.tmp, "import-cycle")
        target = Server(data, ["--metrics_listen=127.0.0.1:0", "--demo"])
        try:
            for name, content in (("cycle", lines), ("corrections", corrections)):
                history = os.path.join(self.tmp, f"{name}.jsonl")
                with open(history, "w") as f:
                    for line in content:
                        f.write(json.dumps(line) + "\n")
                result = subprocess.run([ARGS.evenhand, f"--server={target.address}", "import",
                                         history], capture_output=True, text=True, timeout=60)
                if name == "cycle":
                    self.assertEqual(result.returncode, 3, result.stderr)
                    self.assertIn("2 stream(s) could not be recorded", result.stderr)
                    self.assertEqual(refused_appends(data), 2)
                else:
                    self.assertEqual(result.returncode, 0, result.stderr)
                    self.assertIn("imported 3 events in 1 streams", result.stdout)
        finally:
            target.stop()

    def test_import_sends_what_others_name_first(self):
        # Fifty written queries listed before the councillors and the officer
        # they name, and a political assistant before its group: the import
        # sends an event only once what it names is recorded, so the server
        # refuses none for naming what is not recorded yet, and the
        # refused-appends metric, which monitoring alerts on, stays at
        # nothing for a clean import, however many streams go at once.
        ids = iter(f"6f0c1f52-0a52-4f43-9b61-1d4b6c1a{n:04d}" for n in range(1, 1000))
        at = "2026-03-02T10:00:00Z"
        lines = []
        for i in range(50):
            lines.append({"streamId": f"query-stg-{i}", "eventId": next(ids), "occurredAt": at,
                          "sourceSystem": "old-system",
                          "payload": {"writtenQueryReceived": {
                              "queryId": f"stg-{i}", "memberId": f"stg-m{i}",
                              "addressedToOfficerId": "stg-o", "subject": "Bins"}}})
        for i in range(50):
            lines.append({"streamId": f"member-stg-m{i}", "eventId": next(ids), "occurredAt": at,
                          "sourceSystem": "old-system",
                          "payload": {"memberRegistered": {"memberId": f"stg-m{i}",
                                                           "name": f"Cllr {i}"}}})
        lines.append({"streamId": "officer-stg-o", "eventId": next(ids), "occurredAt": at,
                      "sourceSystem": "old-system",
                      "payload": {"officerRegistered": {"officerId": "stg-o", "name": "Officer",
                                                        "role": "OFFICER"}}})
        # A political assistant names its group, which names its councillors.
        lines.insert(0, {"streamId": "officer-stg-pa", "eventId": next(ids), "occurredAt": at,
                         "sourceSystem": "old-system",
                         "payload": {"officerRegistered": {
                             "officerId": "stg-pa", "name": "Assistant",
                             "role": "POLITICAL_ASSISTANT", "groupId": "stg-g"}}})
        # Councillors who join a group recorded after them, and officers
        # who name one another (a delegation names the officer who gave it).
        for i in range(2, 50):
            lines.append({"streamId": f"member-stg-m{i}", "eventId": next(ids),
                          "occurredAt": "2026-03-03T10:00:00Z", "sourceSystem": "old-system",
                          "payload": {"memberJoinedGroup": {"memberId": f"stg-m{i}",
                                                            "groupId": "stg-g"}}})
        for i in range(20):
            lines.append({"streamId": f"officer-stg-d{i}", "eventId": next(ids), "occurredAt": at,
                          "sourceSystem": "old-system",
                          "payload": {"officerRegistered": {"officerId": f"stg-d{i}",
                                                            "name": f"Deputy {i}",
                                                            "role": "OFFICER"}}})
            lines.append({"streamId": f"officer-stg-d{i}", "eventId": next(ids),
                          "occurredAt": "2026-03-03T10:00:00Z", "sourceSystem": "old-system",
                          "payload": {"approvalDelegated": {"delegateOfficerId": f"stg-d{i}",
                                                            "delegatedByOfficerId": "stg-hops"}}})
        lines.append({"streamId": "officer-stg-hops", "eventId": next(ids), "occurredAt": at,
                      "sourceSystem": "old-system",
                      "payload": {"officerRegistered": {"officerId": "stg-hops",
                                                        "name": "Head of Paid Service",
                                                        "role": "HEAD_OF_PAID_SERVICE"}}})
        lines.append({"streamId": "group-stg-g", "eventId": next(ids), "occurredAt": at,
                      "sourceSystem": "old-system",
                      "payload": {"politicalGroupRecognised": {
                          "groupId": "stg-g", "name": "Staged Group",
                          "memberIds": ["stg-m0", "stg-m1"]}}})
        history = os.path.join(self.tmp, "cases-first.jsonl")
        with open(history, "w") as f:
            for line in lines:
                f.write(json.dumps(line) + "\n")
        data = os.path.join(self.tmp, "import-staged")
        target = Server(data, ["--metrics_listen=127.0.0.1:0"])
        try:
            result = subprocess.run([ARGS.evenhand, f"--server={target.address}", "import",
                                     "--parallel=8", "--batch=7", history],
                                    capture_output=True, text=True, timeout=300)
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertEqual(refused_appends(data), 0)
            self.assertIn("imported 192 events in 124 streams", result.stdout)
        finally:
            target.stop()
        # The command's own output is not an import file: said so.
        read_output = os.path.join(self.tmp, "read-output.jsonl")
        with open(read_output, "w") as f:
            f.write(self.cli("read", "--all", "--format=json", "--max=3").stdout)
        result = self.cli("import", read_output, check=False)
        self.assertEqual(result.returncode, 2)
        self.assertIn("looks like the output of evenhand read", result.stderr)

    def test_import_refuses_lines_without_a_stream_or_an_id(self):
        bad = os.path.join(self.tmp, "bad.jsonl")
        with open(bad, "w") as f:
            f.write(json.dumps({"eventId": "7b7c2f52-0a52-4f43-9b61-1d4b6c1a0001",
                                "payload": {"memberRegistered": {"memberId": "x"}}}) + "\n")
        result = self.cli("import", bad, check=False)
        self.assertEqual(result.returncode, 2)
        self.assertIn("bad.jsonl:1: streamId is required", result.stderr)
        result = self.cli("import", os.path.join(self.tmp, "missing.jsonl"), check=False)
        self.assertEqual(result.returncode, 4)
        # One id for two different events: the file's mistake, named.
        event = {"streamId": "member-dup-a", "eventId": "7b7c2f52-0a52-4f43-9b61-1d4b6c1a0099",
                 "occurredAt": "2026-03-02T10:00:00Z", "sourceSystem": "old-system",
                 "payload": {"memberRegistered": {"memberId": "dup-a", "name": "Cllr A"}}}
        other = dict(event, payload={"memberRegistered": {"memberId": "dup-a", "name": "B"}})
        with open(bad, "w") as f:
            f.write(json.dumps(event) + "\n" + json.dumps(other) + "\n")
        result = self.cli("import", bad, check=False)
        self.assertEqual(result.returncode, 2)
        self.assertIn("bad.jsonl:2: eventId 7b7c2f52-0a52-4f43-9b61-1d4b6c1a0099 is line 1's "
                      "with other content", result.stderr)
        # The same line twice (a file concatenated with itself) goes once.
        with open(bad, "w") as f:
            f.write(json.dumps(event) + "\n" + json.dumps(event) + "\n")
        result = self.cli("import", bad)
        self.assertIn("imported 1 events in 1 streams", result.stdout)
        # ...and the summary says so (found from outside: it was silent).
        self.assertIn("1 line(s) repeated an earlier line's event", result.stdout)
        # A byte order mark before the first line (a file saved by some
        # Windows editors) is no part of the event.
        with open(bad, "rb") as f:
            content = f.read()
        with open(bad, "wb") as f:
            f.write(b"\xef\xbb\xbf" + content)
        result = self.cli("import", bad)
        self.assertIn("imported 1 events in 1 streams", result.stdout)
        # A batch refused for its third event names that event and its line
        # (found from outside: the line was named only for what the client
        # found), and the summary tells this run's events from those
        # recorded before.
        ids = iter(f"7c7c2f52-0a52-4f43-9b61-1d4b6c1a{n:04d}" for n in range(1, 100))
        lines = [dict(event, eventId=next(ids), streamId="member-idx-a",
                      payload={"memberRegistered": {"memberId": "idx-a", "name": "Cllr I"}}),
                 dict(event, eventId=next(ids), streamId="member-idx-a",
                      payload={"memberJoinedGroup": {"memberId": "idx-a", "groupId": "green"}}),
                 dict(event, eventId=next(ids), streamId="member-idx-a",
                      payload={"memberLeftGroup": {"memberId": "idx-a"}})]
        with open(bad, "w") as f:
            f.write("\n")  # a blank line: the events are on lines 2 to 4
            for line in lines:
                f.write(json.dumps(line) + "\n")
        result = self.cli("import", bad, check=False)
        self.assertEqual(result.returncode, 3, result.stderr)
        self.assertIn("import stopped at " + bad + ":4 (stream member-idx-a, its event 3); "
                      "by then 0 of the file's 3 events were recorded (streams go in parallel: "
                      "some from later lines, not that one), 0 of them by this run and 0 "
                      "already", result.stderr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--evenhandd", required=True)
    parser.add_argument("--evenhand", required=True)
    parser.add_argument("--make_certs", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
