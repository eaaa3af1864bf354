#!/usr/bin/python3
"""The `evenhand` command line says which moment it answers for, and answers
what was asked (outside probe: `findings` never said its moment, `--case`
with `--type` returned every event of the case, `tail --from` beyond the end
gave an API field as advice, a stray comma in a list was dropped; later, a
port over 65535 dialled another, and "{}" as a saved checkpoint was
"another log"; later still, "--format=JSONL" gave a table, `import
--parallel=100000` aborted, `replay` said nothing when nothing matched and
named a made-up case as an example, and flags that do not apply to
`--list` were ignored).

  /usr/bin/python3 tests/clients/cli_answers_test.py --evenhandd PATH --evenhand PATH
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
import unittest

ARGS = None
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testing"))
from child_server import ChildServer  # noqa: E402


class CliAnswers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="evenhand-cli-answers-")
        cls.server = ChildServer(ARGS.evenhandd, os.path.join(cls.tmp, "data"), ["--demo"],
                                 timeout=20)

    @classmethod
    def tearDownClass(cls):
        assert cls.server.stop() == 0
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def cli(self, *args, check=True):
        result = subprocess.run([ARGS.evenhand, f"--server={self.server.address}", *args],
                                capture_output=True, text=True, timeout=30)
        if check:
            self.assertEqual(result.returncode, 0, result.stderr)
        return result

    def test_findings_and_due_say_which_moment_they_answer_for(self):
        for fmt in ("table", "json"):
            asked = self.cli("findings", f"--format={fmt}", "--as-of=100")
            self.assertRegex(asked.stderr, r"evenhand: \d+ finding\(s\) as of position 100\n")
            now = self.cli("findings", f"--format={fmt}")
            position = int(re.search(r"as of position (\d+)", now.stderr).group(1))
            self.assertGreater(position, 100)
            if fmt == "json":
                for line in now.stdout.splitlines():
                    json.loads(line)  # stdout stays JSON lines
            due = self.cli("due", f"--format={fmt}", "--as-of=100")
            self.assertRegex(due.stderr, r"open obligation\(s\) as of position 100\n")

    def test_a_cases_events_of_one_type_are_those_only(self):
        events = [json.loads(l) for l in
                  self.cli("replay", "--case=briefing-B-LP-1", "--format=json").stdout.splitlines()]
        self.assertGreaterEqual(len(events), 2)
        types = {e["event"]["event"]["type"] for e in events}
        one = sorted(types)[0]
        of_type = [json.loads(l) for l in self.cli(
            "replay", "--case=briefing-B-LP-1", f"--type={one}", "--format=json"
        ).stdout.splitlines()]
        self.assertTrue(of_type)
        self.assertEqual({e["event"]["event"]["type"] for e in of_type}, {one})
        none = self.cli("replay", "--case=briefing-B-LP-1", "--type=WrittenQueryReceived",
                        "--format=json")
        self.assertEqual(none.stdout, "")
        # An export of that selection holds what it says it holds, or is
        # refused as empty (never the case's other events).
        bundle = os.path.join(self.tmp, "none.bundle")
        refused = self.cli("export", "--case=briefing-B-LP-1", "--type=WrittenQueryReceived",
                           f"--out={bundle}", check=False)
        self.assertNotEqual(refused.returncode, 0, refused.stdout)

    def test_an_empty_item_in_a_list_is_refused_not_dropped(self):
        for args in (["findings", "--group=green,"], ["findings", "--rule", ",equal-offer"],
                     ["read", "--all", "--type=BriefingRequested,,BriefingOffered"],
                     ["findings", "--group=,,,"]):
            r = self.cli(*args, check=False)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn("has an empty item in its list", r.stderr, args)
        # The same lists without the stray commas are answered.
        self.cli("findings", "--group=green", "--rule=equal-offer")

    def test_a_misspelt_flag_is_named_with_the_nearest_one(self):
        for args, says in ((["report", "--form=2026-04-01"], 'unknown flag "--form"; did you '
                            'mean "--from"?'),
                           (["findings", "--grup", "green"], 'did you mean "--group"?'),
                           (["--servr=127.0.0.1:1", "status"], 'evenhand: unknown flag '
                            '"--servr"; did you mean "--server"?'),
                           (["due", "--bogus"], 'evenhand due: unknown flag "--bogus" (known: '
                            '--as-of, ')):
            r = self.cli(*args, check=False)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn(says, r.stderr, args)
            self.assertEqual(r.stdout, "", args)
        # Flags a command does take, with their values, are not mistaken for
        # unknown ones around the one that is.
        r = self.cli("report", "--to", "2026-06-30", "--format=json", "--too=x", check=False)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn('unknown flag "--too"; did you mean "--to"?', r.stderr)

    def test_tail_from_beyond_the_end_gives_advice_the_cli_can_follow(self):
        r = self.cli("tail", "--from=99999999", check=False)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("beyond the end of the log", r.stderr)
        self.assertIn("leave --from out to follow only new events", r.stderr)
        self.assertNotIn("from_end", r.stderr)

    def test_an_address_that_would_dial_elsewhere_is_refused(self):
        # A port over 65535 wrapped round (104651 reached 39115, shown as
        # typed); none at all dialled port 0 (outside probe).
        port = int(self.server.address.rsplit(":", 1)[1])
        for address, says in ((f"127.0.0.1:{port + 65536}", "is not a port number (1 to 65535)"),
                              ("127.0.0.1", "has no port"), ("127.0.0.1:0", "is not a port"),
                              ("::1:50051", "goes in brackets"), (":50051", "has no host")):
            r = subprocess.run([ARGS.evenhand, f"--server={address}", "status"],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 2, (address, r.stderr))
            self.assertIn(says, r.stderr, address)
            self.assertEqual(r.stdout, "", address)

    def test_a_report_is_one_json_document_not_json_lines(self):
        r = self.cli("report", "--format=jsonl", check=False)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--format", r.stderr)
        self.assertIn("jsonl", self.cli("findings", "--help").stdout)

    def test_findings_of_a_period_not_begun_say_so(self):
        import datetime
        tomorrow = (datetime.datetime.now(datetime.timezone.utc)
                    + datetime.timedelta(hours=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
        r = self.cli("findings", f"--from={tomorrow}")
        self.assertIn("0 finding(s)", r.stderr)
        self.assertIn("the period asked for has not begun", r.stderr)
        self.assertNotIn("has not begun", self.cli("findings").stderr)

    def test_a_filter_that_matches_nothing_says_so(self):
        r = self.cli("read", "--all", "--prefix=zzz-none")
        self.assertEqual(r.stdout, "")
        self.assertIn("no event in the log matched --prefix=zzz-none", r.stderr)
        r = self.cli("access", "--method=NoSuchMethod")
        self.assertRegex(r.stderr, r'none for a method containing "NoSuchMethod" among \d+ '
                                   r'access records in the log')
        # replay too (it said nothing), its table's header only with its rows.
        r = self.cli("replay", "--prefix=zzz-none", "--format=table")
        self.assertEqual(r.stdout.count("\n"), 1, r.stdout)
        self.assertIn("no event in the log matched --prefix=zzz-none", r.stderr)
        # A principal with records that a filter empties is not misspelt.
        r = self.cli("access", "--principal=local", "--method=NoSuchMethod")
        self.assertNotIn("check the name", r.stderr)
        self.assertIn("among", r.stderr)

    def test_a_mistyped_case_is_named_with_the_nearest_real_one(self):
        first = json.loads(self.cli("read", "--all", "--prefix=query-", "--max=1").stdout)
        case = first["event"]["streamId"]
        r = self.cli("replay", f"--case={case}-", "--format=table", check=False)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertEqual(r.stdout, "")  # no table header before a refusal
        # It sorts beside the real case, and one edit from it (as is the
        # case after it, if any).
        near = re.search(r'did you mean "([^"]+)"\?', r.stderr)
        self.assertIsNotNone(near, r.stderr)
        self.assertTrue(near.group(1).startswith(case), r.stderr)
        self.assertTrue(self.cli("read", f"--stream={near.group(1)}").stdout)
        # Nothing near: an example from the log, not a made-up one.
        r = self.cli("replay", "--case=zzzz", check=False)
        self.assertEqual(r.returncode, 3, r.stderr)
        example = re.search(r"case streams are named <kind>-<id>, e\.g\. (\S+)", r.stderr)
        self.assertIsNotNone(example, r.stderr)
        self.assertTrue(self.cli("read", f"--stream={example.group(1)}").stdout)

    def test_format_is_taken_in_any_case_jsonl_too(self):
        # "--format=JSONL" printed the table (outside probe).
        for fmt in ("JSONL", "Jsonl", "JSON"):
            for command in ("findings", "due"):
                lines = self.cli(command, f"--format={fmt}").stdout.splitlines()
                self.assertTrue(lines, (command, fmt))
                for line in lines:
                    json.loads(line)

    def test_a_leap_second_is_refused_not_moved_to_the_next_minute(self):
        # "00:03:60Z" was answered as of 00:04:00 (outside probe).
        for args in (["report", "--as-of=2026-12-07T00:03:60Z"],
                     ["due", "--as-of=2026-12-07T00:03:60Z"],
                     ["report", "--from=2026-04-01", "--to=2026-12-07T00:03:60Z"],
                     ["append", "--stream=member-x", "--type=MemberRegistered",
                      "--occurred-at=2026-12-07T00:03:60Z",
                      '--payload={"memberId":"x","name":"X"}']):
            r = self.cli(*args, check=False)
            self.assertEqual(r.returncode, 2, (args, r.stdout, r.stderr))
            self.assertIn("second 60 (a leap second) is not taken", r.stderr, args)
        # The 59th second is a time like any other (answered by the server,
        # whatever it says of a log that did not exist then).
        r = self.cli("report", "--format=json", "--as-of=2026-12-07T00:03:59Z", check=False)
        self.assertNotIn("second", r.stderr)
        self.assertNotEqual(r.returncode, 2, r.stderr)

    def test_due_names_the_moment_a_promise_broken_as_it_is_given_falls_due(self):
        # A holding reply dated an hour ahead of the clock promising a day
        # already over: due at that moment, not at the end of its day, and
        # no working day is left (outside probe: the table said the day's
        # end, a working day left, and the text "by the end of that day").
        import datetime
        import uuid
        from zoneinfo import ZoneInfo
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        at = now + datetime.timedelta(hours=1)
        iso = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
        lines = "\n".join(json.dumps(e) for e in [
            {"eventId": str(uuid.uuid4()), "occurredAt": iso(now - datetime.timedelta(minutes=1)),
             "payload": {"writtenQueryReceived": {"queryId": "Q-due-at", "memberId": "labour-1",
                                                  "addressedToOfficerId": "o-ceo"}}},
            {"eventId": str(uuid.uuid4()), "occurredAt": iso(at),
             "payload": {"writtenQueryAcknowledged": {
                 "queryId": "Q-due-at", "officerId": "o-ceo",
                 "replyDueAt": iso(now - datetime.timedelta(days=3))}}},
        ])
        appended = subprocess.run([ARGS.evenhand, f"--server={self.server.address}", "append",
                                   "--stream=query-Q-due-at"], input=lines, capture_output=True,
                                  text=True, timeout=30)
        self.assertEqual(appended.returncode, 0, appended.stderr)
        owed = [json.loads(line) for line in self.cli("due", "--format=json").stdout.splitlines()]
        owed = [o for o in owed if o["caseId"] == "query-Q-due-at"]
        self.assertEqual(len(owed), 1, owed)
        self.assertEqual(owed[0]["dueAt"], iso(at))
        self.assertEqual(owed[0].get("workingDaysLeft", 0), 0)
        self.assertIn("a day already over when that promise is dated", owed[0]["description"])
        self.assertNotIn("by the end of that day", owed[0]["description"])
        row = [line for line in self.cli("due").stdout.splitlines() if "query-Q-due-at" in line]
        self.assertEqual(len(row), 1)
        uk = at.astimezone(ZoneInfo("Europe/London")).strftime("%Y-%m-%d %H:%M")
        self.assertTrue(row[0].startswith(uk + "  0 "), row[0])

    def test_a_call_cut_off_says_so_and_what_to_do(self):
        # A server stopping cut a report off with gRPC's "CANCELLED:
        # CANCELLED" and nothing else (outside probe: 1 of 24 reports in
        # flight at a SIGTERM). What gRPC says then is stood in for by a
        # server that answers every call so.
        import grpc
        from concurrent import futures

        class CutOff(grpc.GenericRpcHandler):
            def service(self, details):
                def cut(request, context):
                    context.abort(grpc.StatusCode.CANCELLED, "CANCELLED")
                return grpc.unary_unary_rpc_method_handler(cut)

        stand_in = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        stand_in.add_generic_rpc_handlers((CutOff(),))
        port = stand_in.add_insecure_port("127.0.0.1:0")
        stand_in.start()
        try:
            r = subprocess.run([ARGS.evenhand, f"--server=127.0.0.1:{port}", "report",
                                "--format=json"], capture_output=True, text=True, timeout=30)
        finally:
            stand_in.stop(None)
        self.assertEqual(r.returncode, 3, r.stderr)  # the server's answer was an error
        self.assertIn("evenhand: CANCELLED: CANCELLED", r.stderr)
        self.assertIn("ended before its answer: the server stopped or restarted, or the "
                      "connection was lost. Ask again once `evenhand status` answers", r.stderr)

    def test_flags_that_do_not_apply_are_refused_not_ignored(self):
        backups = os.path.join(self.tmp, "backups")
        for args in (["backup", f"--to={backups}", "--list", "--exclude-signing-key"],
                     ["restore", f"--from={backups}", "--list", f"--to={self.tmp}/x"],
                     ["restore", f"--from={backups}", "--list", "--pubkey=k.pem"]):
            r = self.cli(*args, check=False)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn("not with --list", r.stderr)

    def test_import_parallel_is_bounded_and_never_more_than_the_streams(self):
        events = os.path.join(self.tmp, "one-stream.jsonl")
        recorded = json.loads(self.cli("read", "--stream=group-labour").stdout.splitlines()[0])
        del recorded["event"]["recordedAt"]  # the server's, not the publisher's
        with open(events, "w") as f:
            f.write(json.dumps(recorded["event"]) + "\n")
        r = self.cli("import", events, "--parallel=100000", check=False)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--parallel: at most 256", r.stderr)
        r = self.cli("import", events, "--batch=99999999999", check=False)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--batch: at most", r.stderr)
        # 256 threads asked for one stream: one is started, the event is
        # already recorded.
        r = self.cli("import", events, "--parallel=256")
        self.assertIn("imported 1 events in 1 streams: 0 new, 1 already recorded", r.stdout)

    def test_an_output_file_name_is_a_file_name(self):
        # "-o=q.html" wrote a file named "=q.html"; -o "" wrote to stdout.
        for args, says in ((["report", "-o=q.html"], "write -o q.html or --output=q.html"),
                           (["report", "-o", ""], "needs a file name"),
                           (["pubkey", "-o", ""], "needs a file name"),
                           (["checkpoint", "-o=c.json"], "write -o c.json")):
            r = self.cli(*args, check=False)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn(says, r.stderr, args)
            self.assertFalse(os.path.exists("=q.html"))

    def test_a_checkpoint_file_that_is_none_is_not_evidence_against_the_log(self):
        # "{}" parsed as an empty checkpoint, "of log " (none): VERIFICATION
        # FAILED, "another log" (outside probe).
        for text in ("{}", '{"checkpoint": {}}'):
            saved = os.path.join(self.tmp, "none.json")
            with open(saved, "w") as f:
                f.write(text)
            r = self.cli("verify", "--server", f"--checkpoint={saved}", check=False)
            self.assertEqual(r.returncode, 2, (text, r.stderr))
            self.assertIn("is not a saved checkpoint", r.stderr)
            self.assertNotIn("VERIFICATION FAILED", r.stderr)
        # A real one verifies.
        real = os.path.join(self.tmp, "real.json")
        with open(real, "w") as f:
            f.write(self.cli("checkpoint").stdout)
        self.cli("verify", "--server", f"--checkpoint={real}")

    def test_due_watch_ends_on_ctrl_c_saying_where_to_resume_and_resumes_there(self):
        def watch(*extra):
            return subprocess.Popen([ARGS.evenhand, f"--server={self.server.address}", "due",
                                     "--watch", "--within=10", "--format=json", *extra],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def until_caught_up(w):
            told = []
            while True:
                line = w.stdout.readline()
                self.assertTrue(line, w.stderr.read() if w.poll() is not None else "")
                told.append(json.loads(line))
                if told[-1]["kind"] == "CAUGHT_UP":
                    return told

        def interrupt(w):
            w.send_signal(signal.SIGINT)
            out, err = w.communicate(timeout=20)
            self.assertEqual(w.returncode, 130, err)
            return err

        first = watch()
        told = until_caught_up(first)
        self.assertTrue(told[-1]["resumePoint"])
        self.assertFalse(any(u.get("resumePoint") for u in told[:-1]))
        err = interrupt(first)
        point = re.search(r"--resume-after=(\d+)@(\S+)", err)
        self.assertIsNotNone(point, err)
        self.assertEqual(point.group(1), told[-1]["asOfPosition"])
        # One query told due soon is answered while nobody watches.
        query = next(u["obligation"] for u in told
                     if u["kind"] == "DUE_SOON" and u["obligation"]["caseId"].startswith("query-"))
        query_id = query["caseId"][len("query-"):]
        self.cli("append", f"--stream={query['caseId']}", "--type=WrittenQueryAnswered",
                 f'--payload={{"queryId": "{query_id}", "officerId": "{query["officerId"]}"}}')
        resumed = watch(f"--resume-after={point.group(1)}@{point.group(2)}")
        since = until_caught_up(resumed)
        self.assertEqual([(u["kind"], u.get("obligation", {}).get("caseId")) for u in since],
                         [("MET", query["caseId"]), ("CAUGHT_UP", None)])
        self.assertGreater(int(since[-1]["asOfPosition"]), int(point.group(1)))
        self.assertIn("--resume-after=", interrupt(resumed))
        # A point that is not one is refused, saying why.
        for flags, code, says in (
                (["--resume-after=5"], 2, "give it with --watch"),
                (["--watch", "--resume-after=5@yesterday"], 2, "not an RFC 3339 time"),
                (["--watch", "--resume-after=0@2026-12-01T00:00:00Z"], 2,
                 "a position of 1 or more"),
                (["--watch", f"--resume-after={point.group(1)}"], 2, "POSITION@TIME"),
                (["--watch", f"--resume-after=99999999@{point.group(2)}"], 3,
                 "beyond the end of the log"),
                (["--watch", f"--resume-after={point.group(1)}@2000-01-01T00:00:00Z"], 3,
                 "before that position was recorded")):
            r = self.cli("due", *flags, check=False)
            self.assertEqual(r.returncode, code, (flags, r.stderr))
            self.assertIn(says, r.stderr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--evenhandd", required=True)
    parser.add_argument("--evenhand", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
