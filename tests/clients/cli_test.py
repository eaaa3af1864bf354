#!/usr/bin/python3
"""The `evenhand` command-line client against a real evenhandd.

  /usr/bin/python3 tests/clients/cli_test.py --evenhandd PATH --evenhand PATH \
      --make_certs scripts/make-certs
"""

import argparse
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

ARGS = None
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testing"))
from answer_dropping_proxy import AnswerDroppingProxy  # noqa: E402
from child_server import ChildServer  # noqa: E402


def Server(data_dir, extra=()):
    """An evenhandd child on 127.0.0.1 with its data in `data_dir`."""
    return ChildServer(ARGS.evenhandd, data_dir, extra, timeout=20)


class EvenHandCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="evenhand-cli-")
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

    def last_position(self):
        out = self.cli("status").stdout
        line = [l for l in out.splitlines() if l.startswith("last position")][0]
        return int(line.split()[-1])

    def test_status_shows_the_demo_council(self):
        out = self.cli("status").stdout
        self.assertIn("log id", out)
        self.assertGreater(self.last_position(), 10)

    def test_append_from_stdin_json_then_read(self):
        event = {"payload": {"writtenQueryReceived": {
            "queryId": "Q-cli-1", "memberId": "libdem-1", "addressedToOfficerId": "o-hos-planning",
            "subject": "Street lighting"}}}
        out = self.cli("append", "--stream=query-Q-cli-1", "--expected=no_stream",
                       stdin=json.dumps(event)).stdout
        reply = json.loads(out)
        self.assertEqual(len(reply["positions"]), 1)
        lines = self.cli("read", "--stream=query-Q-cli-1").stdout.splitlines()
        self.assertEqual(len(lines), 1)
        got = json.loads(lines[0])
        self.assertEqual(got["event"]["type"], "WrittenQueryReceived")
        self.assertEqual(got["event"]["sourceSystem"], "evenhand-cli")
        self.assertEqual(got["position"], reply["positions"][0])

    def test_append_several_events_as_json_lines(self):
        lines = "\n".join(json.dumps(e) for e in [
            {"payload": {"writtenQueryReceived": {"queryId": "Q-cli-many", "memberId": "green-1",
                                                  "addressedToOfficerId": "o-ceo"}}},
            {"payload": {"writtenQueryAcknowledged": {"queryId": "Q-cli-many", "officerId": "o-ceo",
                                                      "replyDueAt": "2030-01-01T00:00:00Z"}}},
            {"payload": {"writtenQueryAnswered": {"queryId": "Q-cli-many", "officerId": "o-ceo"}}},
        ])
        reply = json.loads(self.cli("append", "--stream=query-Q-cli-many", stdin=lines).stdout)
        positions = [int(p) for p in reply["positions"]]
        self.assertEqual(positions, list(range(positions[0], positions[0] + 3)))

    def test_append_with_an_id_and_a_time_is_recorded_once_however_often_it_runs(self):
        args = ("append", "--stream=briefing-B-cli-once", "--type=BriefingRequested",
                '--payload={"briefingId": "B-cli-once", "groupId": "green", "topic": "Parks", '
                '"matterId": "parks", "requestedByMemberId": "green-1", '
                '"routedToOfficerId": "o-ceo"}',
                "--event-id=0b9c7a1e-3f4d-4e2a-9c5b-7d8e6f1a2b3c",
                "--occurred-at=2026-03-02T10:00:00Z")
        first = json.loads(self.cli(*args).stdout)
        again = json.loads(self.cli(*args).stdout)
        self.assertEqual(first["positions"], again["positions"])
        self.assertTrue(again.get("idempotentReplay"), again)
        out = self.cli("read", "--stream=briefing-B-cli-once", "--format=json").stdout
        self.assertEqual(len(out.splitlines()), 1)

    def test_append_from_flags(self):
        self.cli("append", "--stream=briefing-B-cli", "--type=BriefingRequested",
                 '--payload={"briefingId": "B-cli", "groupId": "green", "topic": "Parks", '
                 '"matterId": "parks", "requestedByMemberId": "green-1", '
                 '"routedToOfficerId": "o-ceo"}',
                 "--occurred-at=2026-01-05T10:00:00Z")
        got = json.loads(self.cli("read", "--stream=briefing-B-cli").stdout)
        self.assertEqual(got["event"]["payload"]["briefingRequested"]["topic"], "Parks")
        self.assertEqual(got["event"]["occurredAt"], "2026-01-05T10:00:00Z")

    def test_wrong_expected_revision_fails_with_the_actual_revision(self):
        self.cli("append", "--stream=query-Q-cli-rev", "--type=WrittenQueryReceived",
                 '--payload={"queryId": "Q-cli-rev", "memberId": "libdem-2", '
                 '"addressedToOfficerId": "o-cfo"}')
        result = self.cli("append", "--stream=query-Q-cli-rev", "--expected=5",
                          "--type=WrittenQueryAnswered",
                          '--payload={"queryId": "Q-cli-rev", "officerId": "o-cfo"}',
                          check=False)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("FAILED_PRECONDITION", result.stderr)
        self.assertIn("is at revision 0", result.stderr)

    def test_unknown_group_is_refused_with_the_field_named(self):
        result = self.cli("append", "--stream=briefing-B-cli-x", "--type=BriefingRequested",
                          '--payload={"briefingId": "B-cli-x", "groupId": "no-such-group", '
                          '"topic": "t", "matterId": "m", "requestedByMemberId": "green-1", '
                          '"routedToOfficerId": "o-ceo"}', check=False)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("INVALID_ARGUMENT", result.stderr)
        self.assertIn('briefing_requested.group_id: unknown political group "no-such-group"',
                      result.stderr)

    def test_unknown_type_is_refused_before_sending(self):
        result = self.cli("append", "--stream=s", "--type=BriefingGiven", "--payload={}",
                          check=False)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("unknown event type", result.stderr)

    def test_read_all_as_table_and_backwards(self):
        out = self.cli("read", "--all", "--backwards", "--max=2", "--format=table").stdout
        header, *rows = out.splitlines()
        # A header row; both times labelled.
        self.assertEqual(header.split()[:3], ["position", "stream@revision", "type"])
        self.assertIn("occurred (UTC)", header)
        self.assertIn("recorded (UTC)", header)
        self.assertEqual(len(rows), 2)
        self.assertGreater(int(rows[0].split()[0]), int(rows[1].split()[0]))

    def test_tail_follows_from_a_position(self):
        lines = self.cli("tail", "--from=1", "--count=5").stdout.splitlines()
        self.assertEqual([json.loads(l)["position"] for l in lines], ["1", "2", "3", "4", "5"])

    def test_every_command_has_help(self):
        for command in ("append", "read", "tail", "status", "report", "findings", "rules",
                        "replay", "export", "verify", "checkpoint", "pubkey", "access"):
            out = self.cli(command, "--help").stdout
            self.assertIn("Usage", out, command)

    def test_report_html_is_one_self_contained_page(self):
        path = os.path.join(self.tmp, "report.html")
        self.cli("report", "--from=2020-01-01", f"--output={path}")
        with open(path) as f:
            html = f.read()
        for chart in ("chart-officer-time", "chart-decline-rate", "chart-reply-time"):
            self.assertIn(f'<svg id="{chart}"', html)
        self.assertIn('id="findings"', html)
        # Nothing fetched from elsewhere: no scripts, stylesheets or images.
        for forbidden in ("<script", "<link", "src=", "url(", "https://"):
            self.assertNotIn(forbidden, html)

    def test_report_json_and_csv(self):
        report = json.loads(self.cli("report", "--format=json").stdout)
        self.assertEqual(len(report["groups"]), 4)
        self.assertGreater(len(report["findings"]), 10)
        # Rows, then two '#' lines: where the report comes from, and its
        # signature (what pandas' comment='#' skips).
        groups = self.cli("report", "--format=csv").stdout.splitlines()
        self.assertTrue(groups[0].startswith("group_id,name,councillors"))
        self.assertTrue(groups[-2].startswith("# evenhand report: "))
        self.assertTrue(groups[-1].startswith("# evenhand-report-signature v1 "))
        groups = [l for l in groups if not l.startswith("#")]
        self.assertEqual(len(groups), 5)
        findings = [l for l in self.cli("report", "--format=csv", "--table=findings")
                    .stdout.splitlines() if not l.startswith("#")]
        self.assertTrue(findings[0].startswith("occurred_at,rule_id,citation"))
        self.assertEqual(len(findings), len(report["findings"]) + 1)

    def test_report_as_of_a_position(self):
        report = json.loads(self.cli("report", "--as-of=100", "--format=json").stdout)
        self.assertEqual(report["asOfPosition"], "100")

    def test_report_refuses_a_bad_date(self):
        result = self.cli("report", "--from=2026-13-40", check=False)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("--from", result.stderr)

    def test_findings_filtered_by_rule(self):
        lines = self.cli("findings", "--rule=equal-offer", "--format=json").stdout.splitlines()
        self.assertGreater(len(lines), 0)
        for line in lines:
            self.assertEqual(json.loads(line)["ruleId"], "equal-offer")

    def test_rules_are_listed_with_citations(self):
        out = self.cli("rules").stdout
        self.assertIn("same-matter-decline", out)
        self.assertIn("Harlow 15.12", out)

    def test_replay_a_case_with_its_hashes(self):
        lines = self.cli("replay", "--case=complaint-C-RT-1").stdout.splitlines()
        self.assertEqual(len(lines), 2)
        event = json.loads(lines[0])
        self.assertEqual(event["event"]["event"]["type"], "ComplaintRaised")
        self.assertEqual(len(event["chainHash"]), 44)  # 32 bytes, base64
        table = self.cli("replay", "--member=green-1", "--type=ComplaintRaised",
                         "--format=table").stdout.splitlines()
        self.assertTrue(any("complaint-C-RT-1" in row for row in table))
        offers = self.cli("replay", "--group=green", "--type=BriefingOffered").stdout.splitlines()
        self.assertGreater(len(offers), 0)
        for line in offers:
            payload = json.loads(line)["event"]["event"]["payload"]["briefingOffered"]
            self.assertEqual(payload["groupId"], "green")

    def test_export_then_verify_offline(self):
        bundle = os.path.join(self.tmp, "case.ehb")
        key = os.path.join(self.tmp, "council.pem")
        out = self.cli("export", "--case=complaint-C-RT-1", "--description=for the panel",
                       f"--output={bundle}").stdout
        self.assertIn("exported 2 events", out)
        self.cli("pubkey", f"--output={key}")
        verified = self.cli("verify", bundle, f"--pubkey={key}").stdout
        self.assertIn("VERIFIED", verified)
        self.assertIn("the key you gave with --pubkey", verified)
        self.assertIn("for the panel", verified)

    def test_a_tampered_bundle_fails_naming_the_problem(self):
        bundle = os.path.join(self.tmp, "tampered.ehb")
        self.cli("export", "--case=complaint-C-RT-1", f"--output={bundle}")
        with open(bundle, "rb") as f:
            data = bytearray(f.read())
        # Change a letter of the event's summary text inside the record.
        at = data.find(b"Briefing note withheld")
        self.assertGreater(at, 0)
        data[at] ^= 0x20
        with open(bundle, "wb") as f:
            f.write(data)
        result = self.cli("verify", bundle, check=False)
        self.assertEqual(result.returncode, 1)
        self.assertIn("VERIFICATION FAILED", result.stderr)
        self.assertIn("inclusion proof does not lead to the checkpoint's root", result.stderr)

    def test_verify_the_live_log_against_a_saved_checkpoint(self):
        saved = os.path.join(self.tmp, "checkpoint.json")
        key = os.path.join(self.tmp, "council2.pem")
        self.cli("checkpoint", f"--output={saved}")
        self.cli("pubkey", f"--output={key}")
        self.cli("append", "--stream=query-Q-cli-after", "--type=WrittenQueryReceived",
                 '--payload={"queryId": "Q-cli-after", "memberId": "green-2", '
                 '"addressedToOfficerId": "o-ceo"}')
        out = self.cli("verify", "--server", f"--checkpoint={saved}", f"--pubkey={key}").stdout
        self.assertIn("VERIFIED", out)
        self.assertIn("every leaf hash and chain link recomputed", out)
        self.assertIn("consistent with your saved checkpoint", out)

    # ---- never a silent different answer ----------------------------------

    def test_verify_server_with_an_address_checks_that_log(self):
        # Before: the address was ignored and 127.0.0.1:50051 checked.
        result = subprocess.run([ARGS.evenhand, "--server=127.0.0.1:1", "verify",
                                 f"--server={self.server.address}"],
                                capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("VERIFIED", result.stdout)
        self.assertIn(f"verifying the log at {self.server.address}", result.stderr)
        status = self.cli("status").stdout
        log_id = [l for l in status.splitlines() if l.startswith("log id")][0].split()[-1]
        self.assertIn(log_id, result.stdout)
        # A bundle file given as if it were the address is a usage error.
        result = subprocess.run([ARGS.evenhand, "verify", "--server", "c17.ehb"],
                                capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("is not HOST:PORT", result.stderr)

    def test_report_as_of_the_future_or_before_the_log_is_refused(self):
        result = self.cli("report", "--as-of=2999-01-01", check=False)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("is in the future", result.stderr)
        result = self.cli("report", "--as-of=2020-01-01", check=False)
        self.assertEqual(result.returncode, 3, result.stderr)
        self.assertIn("before the first event was recorded", result.stderr)
        # Eight digits are a position, as asked; beyond the log, the refusal
        # says how to write the day they also spell.
        for command in (["report"], ["findings"], ["due"]):
            result = self.cli(*command, "--as-of=20260301", check=False)
            self.assertEqual(result.returncode, 3, result.stderr)
            self.assertIn("20260301 is beyond the end of the log", result.stderr)
            self.assertIn("for the day, write --as-of=2026-03-01", result.stderr)
        result = self.cli("report", "--as-of=99999999", check=False)
        self.assertEqual(result.returncode, 3, result.stderr)
        self.assertNotIn("for the day", result.stderr)
        # Neither a day, a time nor a position: the refusal names all three.
        for as_of in ("-1", "1e3", "0x10"):
            result = self.cli("report", "--as-of=" + as_of, check=False)
            self.assertEqual(result.returncode, 2, result.stderr)
            self.assertIn("nor a log position (a whole number, 1 or more)", result.stderr)
        # Position 0 is before the first event too: no empty signed report.
        for command in (["report", "--format=json"], ["findings"]):
            result = self.cli(*command, "--as-of=0", check=False)
            self.assertEqual(result.returncode, 3, result.stderr)
            self.assertIn("0 is before the first event", result.stderr)
            if command[0] == "report":
                self.assertEqual(result.stdout, "")

    def test_unknown_groups_rules_cases_and_commands_are_errors(self):
        result = self.cli("findings", "--group=greens", check=False)
        self.assertEqual(result.returncode, 3, result.stderr)
        self.assertIn('unknown political group "greens"; did you mean "green"?', result.stderr)
        result = self.cli("findings", "--rule=equal-offr", check=False)
        self.assertEqual(result.returncode, 3, result.stderr)
        self.assertIn('did you mean "equal-offer"?', result.stderr)
        result = self.cli("replay", "--case=C-RT-1", check=False)
        self.assertEqual(result.returncode, 3, result.stderr)
        self.assertIn('did you mean "complaint-C-RT-1"?', result.stderr)
        result = self.cli("reprot", check=False)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn('unknown command "reprot"; did you mean "report"?', result.stderr)
        # Lists are lists; severities in any case.
        both = self.cli("findings", "--group=green,labour", "--min-severity=medium",
                        "--format=json").stdout.splitlines()
        groups = {json.loads(l)["groupId"] for l in both}
        self.assertTrue(groups)
        self.assertTrue(groups <= {"green", "labour"}, groups)
        table = self.cli("findings", "--group=green").stdout.splitlines()
        self.assertTrue(table[0].startswith("day (UK)"))
        self.assertIn("case", table[0])

    def test_an_export_of_nothing_is_an_error_unless_allowed(self):
        bundle = os.path.join(self.tmp, "empty.ehb")
        result = self.cli("export", "--type=ComplaintRaised", "--from=2001-01-01",
                          "--to=2001-01-02", f"--output={bundle}", check=False)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("selects no event", result.stderr)
        self.assertFalse(os.path.exists(bundle))
        self.cli("export", "--type=ComplaintRaised", "--from=2001-01-01", "--to=2001-01-02",
                 f"--output={bundle}", "--allow-empty")
        out = self.cli("verify", bundle).stdout
        self.assertIn("it holds no event", out)

    def test_a_period_page_names_its_last_included_day(self):
        path = os.path.join(self.tmp, "q2.html")
        self.cli("report", "--from=2026-04-01", "--to=2026-06-30", f"--output={path}")
        with open(path) as f:
            html = f.read()
        self.assertIn("1 Apr 2026 to 30 Jun 2026 (included)", html)
        self.assertNotIn("to 1 Jul 2026", html)

    def test_hashes_are_hex_for_people_in_replay_checkpoint_and_verify(self):
        # One encoding for people: full lowercase hex in every table and
        # summary. JSON keeps protobuf's mapping (bytes in base64).
        events = [json.loads(l) for l in self.cli(
            "replay", "--case=complaint-C-RT-1", "--format=json").stdout.splitlines()]
        table = self.cli("replay", "--case=complaint-C-RT-1", "--format=table").stdout
        header, *rows = table.splitlines()
        self.assertIn("chain hash (hex)", header)
        self.assertEqual(len(rows), len(events))
        for row, event in zip(rows, events):
            self.assertEqual(row.split()[-1], base64.b64decode(event["chainHash"]).hex())
        # Each read is recorded, so a later call may meet a newer checkpoint
        # (one is signed on demand at most once a second): compare a pair
        # of the same tree size.
        for _ in range(10):
            saved = json.loads(self.cli("checkpoint").stdout)
            shown = dict(re.split(r"\s{2,}", l, maxsplit=1) for l in
                         self.cli("checkpoint", "--format=table").stdout.splitlines())
            if shown.get("tree size") == saved["checkpoint"]["treeSize"]:
                break
        root_hex = base64.b64decode(saved["checkpoint"]["rootHash"]).hex()
        self.assertEqual(shown["root"], root_hex)
        self.assertEqual(shown["chain head"],
                         base64.b64decode(saved["checkpoint"]["chainHead"]).hex())
        out_file = os.path.join(self.tmp, "cp-hex.json")
        result = self.cli("checkpoint", "-o", out_file)
        with open(out_file) as f:
            written = json.load(f)
        self.assertIn(base64.b64decode(written["checkpoint"]["rootHash"]).hex(), result.stderr)
        bundle = os.path.join(self.tmp, "hex.bundle")
        self.cli("export", "--case=complaint-C-RT-1", "-o", bundle)
        verified = self.cli("verify", bundle).stdout
        self.assertRegex(verified, r"root [0-9a-f]{64}\b")

    def test_json_means_json_lines_everywhere_and_jsonl_is_the_same(self):
        for command in (["read", "--all", "--max=3"], ["replay", "--case=complaint-C-RT-1"],
                        ["findings"], ["access"]):
            as_json = [json.loads(l) for l in self.cli(*command, "--format=json").stdout.splitlines()]
            as_jsonl = [json.loads(l) for l in self.cli(*command, "--format=jsonl").stdout.splitlines()]
            self.assertTrue(as_json, command)
            # The same objects (a finding's time may be "now"; each access
            # call is itself recorded, so the second sees one more).
            shape = lambda objects: [sorted(o.keys()) for o in objects][:3]
            self.assertEqual(shape(as_jsonl), shape(as_json), command)
            for o in as_json:
                self.assertIsInstance(o, dict)
        # The report alone is one object.
        self.assertIsInstance(json.loads(self.cli("report", "--format=json").stdout), dict)

    def test_severities_are_spelled_one_way(self):
        findings = [json.loads(l) for l in self.cli("findings", "--format=json").stdout.splitlines()]
        spellings = {f["severity"] for f in findings}
        self.assertTrue(spellings <= {"HIGH", "MEDIUM", "LOW", "INFO"}, spellings)
        table = self.cli("findings").stdout.splitlines()[1:]
        self.assertEqual({row.split()[1] for row in table}, spellings)
        page = self.cli("report", "--format=html").stdout
        for s in spellings:
            self.assertIn(f'class="sev {s}"', page)
        csv_rows = self.cli("report", "--format=csv", "--table=findings").stdout.splitlines()
        self.assertTrue(any(f",{s}," in r for r in csv_rows for s in spellings))

    def test_export_shows_progress_when_asked(self):
        bundle = os.path.join(self.tmp, "progress.bundle")
        result = self.cli("export", "--group=green", "--progress=always", "-o", bundle)
        self.assertRegex(result.stderr, r"exporting \[#+\.*\] +\d+%  \d+ of \d+ positions")
        quiet = self.cli("export", "--group=green", "--progress=never", "-o", bundle)
        self.assertNotIn("exporting", quiet.stderr)

    def test_due_lists_the_obligations_falling_due(self):
        # The demo council's year ends today: some replies are owed now.
        out = self.cli("due").stdout.splitlines()
        self.assertEqual(out[0].split()[:4], ["due", "(UK)", "days", "left"])
        self.assertGreater(len(out), 1)
        owed = [json.loads(l) for l in self.cli("due", "--format=json").stdout.splitlines()]
        self.assertEqual(len(owed), len(out) - 1)
        due = [o["dueAt"] for o in owed]
        self.assertEqual(due, sorted(due))  # soonest first
        for o in owed:
            self.assertIn(o["ruleId"], {"equal-offer", "written-query-reply"})
            self.assertTrue(o["evidencePositions"])
        soon = [json.loads(l) for l in self.cli("due", "--within=3", "--format=json")
                .stdout.splitlines()]
        self.assertTrue(all(o.get("workingDaysLeft", 0) <= 3 for o in soon))
        group = owed[0]["groupId"]
        mine = [json.loads(l) for l in self.cli("due", f"--group={group}", "--format=json")
                .stdout.splitlines()]
        self.assertTrue(mine and all(o["groupId"] == group for o in mine))
        refused = self.cli("due", "--group=greens", check=False)
        self.assertEqual(refused.returncode, 3)
        self.assertIn("did you mean", refused.stderr)

    def test_due_watch_follows_obligations_and_refuses_unknown_groups(self):
        watch = subprocess.Popen([ARGS.evenhand, f"--server={self.server.address}", "due",
                                  "--watch", "--within=10", "--format=json"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            first = json.loads(watch.stdout.readline())
            self.assertEqual(first["kind"], "DUE_SOON")
            self.assertIn(first["obligation"]["ruleId"], ("written-query-reply", "equal-offer"))
        finally:
            watch.terminate()
            watch.wait(timeout=10)
        result = self.cli("due", "--watch", "--group=greens", check=False)
        self.assertEqual(result.returncode, 3)
        self.assertIn('did you mean "green"', result.stderr)
        self.assertEqual(result.stdout, "")

    def test_tls_to_a_plain_server_says_it_does_not_speak_tls(self):
        certs = os.path.join(self.tmp, "certs-plain")
        subprocess.run([ARGS.make_certs, certs], check=True, stdout=subprocess.DEVNULL)
        result = self.cli(f"--ca={certs}/ca.pem", "status", check=False)
        self.assertEqual(result.returncode, 3)
        self.assertIn(f"the server at {self.server.address} does not speak TLS", result.stderr)
        self.assertIn("drop --ca", result.stderr)
        self.assertNotIn("ssl_transport_security", result.stderr)

    def test_unreachable_server_is_exit_3_and_says_what_to_do(self):
        result = subprocess.run([ARGS.evenhand, "--server=127.0.0.1:1", "status"],
                                capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 3, result.stderr)
        self.assertIn("UNAVAILABLE", result.stderr)
        self.assertIn("is evenhandd running at 127.0.0.1:1? set --server or EVENHAND_SERVER",
                      result.stderr)

    BRIEFING = ('{"briefingId": "B-lost", "groupId": "green", "topic": "Parks", '
                '"matterId": "parks", "requestedByMemberId": "green-1", '
                '"routedToOfficerId": "o-ceo"}')

    def test_an_append_that_never_reached_a_server_says_nothing_was_recorded(self):
        result = subprocess.run(
            [ARGS.evenhand, "--server=127.0.0.1:1", "append", "--stream=briefing-B-lost",
             "--type=BriefingRequested", f"--payload={self.BRIEFING}"],
            capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 3, result.stderr)
        self.assertIn("this request recorded none of these events (it never reached a server)",
                      result.stderr)
        self.assertNotIn("may or may not", result.stderr)

    def test_an_append_whose_answer_was_lost_gives_the_ids_that_make_a_retry_safe(self):
        # The request reaches the server, which records it; its answer is
        # cut off on the way back.
        proxy = AnswerDroppingProxy(self.server.address)
        try:
            result = subprocess.run(
                [ARGS.evenhand, f"--server={proxy.address}", "append",
                 "--stream=briefing-B-lost", "--type=BriefingRequested",
                 f"--payload={self.BRIEFING}"],
                capture_output=True, text=True, timeout=30)
        finally:
            proxy.close()
        self.assertTrue(proxy.dropped.is_set(), result.stderr)
        self.assertEqual(result.returncode, 3, result.stderr)
        self.assertIn("may or may not have been recorded", result.stderr)
        self.assertNotIn("recorded none of these events", result.stderr)
        flags = [l.strip() for l in result.stderr.splitlines() if l.startswith("  --event-id=")]
        self.assertEqual(len(flags), 1, result.stderr)
        # It was recorded; sent again with those flags, it is not recorded twice.
        for _ in range(2):
            self.cli("append", "--stream=briefing-B-lost", "--type=BriefingRequested",
                     f"--payload={self.BRIEFING}", *flags[0].split())
        read = self.cli("read", "--stream=briefing-B-lost").stdout
        self.assertEqual(len(read.splitlines()), 1, read)
        # With every id given, the outcome is said too (only "CANCELLED" before).
        proxy = AnswerDroppingProxy(self.server.address)
        try:
            result = subprocess.run(
                [ARGS.evenhand, f"--server={proxy.address}", "append",
                 "--stream=briefing-B-lost", "--type=BriefingRequested",
                 f"--payload={self.BRIEFING}", *flags[0].split()],
                capture_output=True, text=True, timeout=30)
        finally:
            proxy.close()
        self.assertIn("may or may not have been recorded; to retry without recording any twice, "
                      "send them again with the same ids", result.stderr)

    def test_local_files_that_cannot_be_read_or_written_are_exit_4(self):
        # A folder opens, then reads as nothing: not "0 events imported".
        for args in (["import", self.tmp], ["append", "--stream=s", f"--file={self.tmp}"]):
            result = self.cli(*args, check=False)
            self.assertEqual(result.returncode, 4, (args, result.stderr))
            self.assertIn("it is a folder", result.stderr, args)
        missing = os.path.join(self.tmp, "no-such-folder", "file")
        for args in (["verify", missing],
                     [f"--ca={missing}", "status"],
                     ["report", f"--output={missing}"],
                     ["verify", "--server", f"--pubkey={missing}"],
                     ["report", f"--offline={missing}"]):
            result = self.cli(*args, check=False)
            self.assertEqual(result.returncode, 4, (args, result.stderr))
            self.assertIn(missing, result.stderr, args)
            self.assertEqual(result.stdout, "", args)

    def test_usage_errors_are_exit_2(self):
        for args, says in ((["status", "--bogus"], "--bogus"),
                           (["reprot"], "unknown command"),
                           (["findings", "--format=xml"], "--format"),
                           (["report", "--table=findings"], "add --format=csv")):
            result = self.cli(*args, check=False)
            self.assertEqual(result.returncode, 2, (args, result.stderr))
            self.assertIn(says, result.stderr, args)

    def test_what_would_answer_another_question_is_exit_2(self):
        # Each of these used to be taken as something else: a year 26 or
        # 20266, an octal or wrapped-around number, "every obligation" for
        # "due today", one of two conflicting flags silently, TLS turned off.
        for args, says in ((["report", "--from=26-03-01"], "neither a date"),
                           (["access", "--to=0226-03-31"],
                            "is before 1900, the first year the server takes"),
                           (["replay", "--from=3026-03-01"],
                            "after 2199, the last year the server takes"),
                           # Refused as a day, not "nor a position" (probe).
                           (["report", "--as-of=1899-12-31"], '"1899-12-31" is before 1900, '
                            'the first year the server takes (a mistyped year?)\n'),
                           # The server's last year is 2199: refused here, not there.
                           (["findings", "--from=2200-12-31"], "after 2199"),
                           # An empty value would take the next argument as its own.
                           (["report", "--from=", "--to=2026-06-30"], "--from= has no value"),
                           (["report", "--as-of=", "2026-11-01"], "--as-of= has no value"),
                           (["report", "--as-of= 5"], "neither a date"),
                           (["report", "--as-of=18446744073709551616"], "too large for a log"),
                           (["replay", "--from=20266-03-01"], "neither a date"),
                           (["replay", "--from=+2026-03-01"], "neither a date"),
                           (["replay", "--to-position=0x10"], "decimal digits"),
                           (["replay", "--from-position=-3"], "decimal digits"),
                           (["read", "--all", "--from=-5"], "decimal digits"),
                           (["due", "--within=0"], "--within=0"),
                           (["due", "--within=4294967296"], "at most 2600 working days"),
                           (["read", "--all", "--stream=s"], "give one"),
                           (["append", "--stream=s", "--type=BriefingRequested",
                             "--file=/nonexistent"], "give one"),
                           (["append", "--stream=s", "--payload={}"], "goes with --type"),
                           (["--ca", "", "status"], "--ca: must name a file"),
                           (["--server-name=council.example", "status"], "needs TLS"),
                           (["verify-report", "--pubkey=k.pem", "--config=c.json", "r.html"],
                            "give --bundle"),
                           # A period that ends before it begins selects nothing.
                           (["findings", "--from=2026-06-01", "--to=2026-03-01"],
                            "--from=2026-06-01 is not before --to=2026-03-01"),
                           (["report", "--from=2026-06-01", "--to=2026-05-31"], "not before"),
                           (["replay", "--from=2026-05-01", "--to=2026-04-01"], "not before"),
                           (["export", "--from=2026-05-01", "--to=2026-04-01",
                             "--output=unused.bundle"], "not before"),
                           (["access", "--from=2026-12-05", "--to=2026-12-01"], "not before"),
                           # An id with "now" would be another event at every run.
                           (["append", "--stream=s", "--type=BriefingRequested",
                             "--event-id=6f1c3a52-9d0e-4c1b-8a77-0c7e5b0d2f11"],
                            "has its id but no occurredAt")):
            result = self.cli(*args, check=False)
            self.assertEqual(result.returncode, 2, (args, result.stderr))
            self.assertIn(says, result.stderr, args)
        empty_ca = os.path.join(self.tmp, "empty-ca.pem")
        open(empty_ca, "w").close()
        result = self.cli(f"--ca={empty_ca}", "status", check=False)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("holds no PEM certificate", result.stderr)
        # Leading zeros are decimal, not octal.
        line = self.cli("read", "--all", "--from=0100", "--max=1", "--format=json").stdout
        self.assertEqual(int(json.loads(line)["position"]), 100)

    def test_a_whole_log_bundle_to_stdout_reports_offline_and_refuses_tampering(self):
        result = subprocess.run([ARGS.evenhand, f"--server={self.server.address}", "export",
                                 "-o", "-"], capture_output=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(b"exported", result.stderr)  # the summary is not in the bundle
        bundle = os.path.join(self.tmp, "whole.ehb")
        with open(bundle, "wb") as f:
            f.write(result.stdout)
        self.assertIn("VERIFIED", self.cli("verify", bundle).stdout)
        csv = self.cli("report", f"--offline={bundle}", "--format=csv").stdout
        self.assertIn("group", csv.splitlines()[0])
        signed = os.path.join(self.tmp, "signed.csv")
        self.cli("report", "--format=csv", f"--output={signed}")
        result = self.cli("report", f"--offline={bundle}", f"--like={signed}",
                          "--from=2026-01-01", check=False)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("--like takes its question", result.stderr)
        # As the server does, no empty report as of position 0.
        result = self.cli("report", f"--offline={bundle}", "--as-of=0", "--format=csv",
                          check=False)
        self.assertNotEqual(result.returncode, 0, result.stderr)
        self.assertIn("position 0 is before the first event", result.stderr)
        self.assertEqual(result.stdout, "")
        data = bytearray(result_bytes := open(bundle, "rb").read())
        at = data.find(b"Briefing note withheld")
        self.assertGreater(at, 0, len(result_bytes))
        data[at] ^= 0x20
        with open(bundle, "wb") as f:
            f.write(data)
        result = self.cli("report", f"--offline={bundle}", "--format=csv", check=False)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("VERIFICATION FAILED", result.stderr)

    def test_words_are_taken_in_any_case(self):
        lines = self.cli("findings", "--format=JSON", "--min-severity=Medium").stdout.splitlines()
        self.assertTrue(lines)
        self.assertTrue(all(json.loads(l)["severity"] in ("MEDIUM", "HIGH") for l in lines))
        self.cli("report", "--format=CSV", "--table=Findings")
        self.cli("replay", "--case=briefing-B-LP-1", "--progress=NEVER")

    def test_reading_a_stream_the_log_does_not_hold_says_so(self):
        # A misspelt case must not read as an empty one (replay --case refuses it too).
        result = self.cli("read", "--stream=briefing-B-NO-SUCH", check=False)
        self.assertEqual(result.returncode, 3, result.stderr)
        self.assertIn('no stream "briefing-B-NO-SUCH" in the log', result.stderr)
        self.assertEqual(result.stdout, "")
        self.cli("append", "--stream=briefing-B-cli-end", "--type=BriefingRequested",
                 '--payload={"briefingId": "B-cli-end", "groupId": "green", "topic": "Parks", '
                 '"matterId": "parks", "requestedByMemberId": "green-1", '
                 '"routedToOfficerId": "o-ceo"}', "--occurred-at=2026-01-05T10:00:00Z")
        # Past a stream's end is no error: there is nothing more, and it
        # says where the end is, not to be taken for an empty place.
        past = self.cli("read", "--stream=briefing-B-cli-end", "--from=5")
        self.assertEqual(past.stdout, "")
        self.assertIn('nothing at or after revision 5: stream "briefing-B-cli-end"\'s last '
                      'revision is 0', past.stderr)
        # Backwards from past the end reads from the end, and says so.
        back = self.cli("read", "--stream=briefing-B-cli-end", "--from=5", "--backwards",
                        "--format=table")
        self.assertIn("briefing-B-cli-end@0", back.stdout)
        self.assertIn("revision 5 is after stream \"briefing-B-cli-end\"'s last revision: "
                      "read back from 0", back.stderr)
        # A stream that does not exist is no stream, with --from too.
        missing = self.cli("read", "--stream=briefing-B-NO-SUCH", "--from=0", check=False)
        self.assertEqual(missing.returncode, 3, missing.stderr)
        self.assertIn('no stream "briefing-B-NO-SUCH" in the log', missing.stderr)
        # The log likewise.
        beyond = self.last_position() + 1000
        past = self.cli("read", "--all", f"--from={beyond}")
        self.assertEqual(past.stdout, "")
        self.assertRegex(past.stderr, rf"nothing at or after position {beyond}: the log's last "
                         r"position is \d+")
        back = self.cli("read", "--all", f"--from={beyond}", "--backwards", "--max=1")
        self.assertEqual(len(back.stdout.splitlines()), 1)
        self.assertIn(f"position {beyond} is after the log's last position: read back from",
                      back.stderr)
        # Within the log: nothing said.
        self.assertEqual(self.cli("read", "--all", "--from=2", "--max=1").stderr, "")
        # The largest position there can be is read as itself; one more is
        # refused, not taken as the largest; before the first, said.
        top = self.cli("read", "--all", "--from=18446744073709551615")
        self.assertIn("nothing at or after position 18446744073709551615", top.stderr)
        over = self.cli("read", "--all", "--from=18446744073709551616", check=False)
        self.assertEqual(over.returncode, 2, over.stderr)
        self.assertIn("too large", over.stderr)
        zero = self.cli("read", "--all", "--from=0", "--backwards")
        self.assertEqual(zero.stdout, "")
        self.assertIn("nothing at or before position 0 (positions start at 1)", zero.stderr)

    def test_unknown_filter_values_of_replay_and_read_are_errors(self):
        # Each would match nothing and read as "nothing happened".
        for args, says in ((["replay", "--type=BriefingRequestd"],
                            'did you mean "BriefingRequested"'),
                           (["replay", "--group=greens"], 'did you mean "green"'),
                           (["replay", "--officer=nobody"], 'no officer "nobody"'),
                           (["read", "--all", "--type=BriefingRequestd"], "event type"),
                           (["tail", "--type=BriefingRequestd"], "event type")):
            result = self.cli(*args, check=False)
            self.assertEqual(result.returncode, 3, (args, result.stderr))
            self.assertIn(says, result.stderr, args)
            self.assertEqual(result.stdout, "", args)
        # Lists are lists: comma-separated types both match.
        out = self.cli("replay", "--type=BriefingRequested,BriefingDelivered").stdout
        types = {json.loads(l)["event"]["event"]["type"] for l in out.splitlines()}
        self.assertEqual(types, {"BriefingRequested", "BriefingDelivered"})

    def test_the_findings_table_dates_each_finding_by_its_uk_day(self):
        from datetime import datetime, timedelta
        from zoneinfo import ZoneInfo
        found = [json.loads(l) for l in self.cli("findings", "--format=json").stdout.splitlines()]
        table = self.cli("findings").stdout.splitlines()[1:]
        self.assertEqual(len(found), len(table))
        self.assertTrue(found)
        by_day = {}
        for f, row in zip(found, table):
            at = datetime.fromisoformat(f["occurredAt"].replace("Z", "+00:00"))
            # The UK day it occurred, as the page, the CSV and the JSON date it
            # (a deadline missed at midnight is the next day's).
            day = at.astimezone(ZoneInfo("Europe/London")).date().isoformat()
            self.assertEqual(row.split()[0], day, (f["occurredAt"], row))
            if f.get("caseId"):  # (access-parity is the period's, dated by its end)
                by_day.setdefault(day, []).append((f["ruleId"], f["caseId"], f["occurredAt"]))
        self.assertTrue(any(f["occurredAt"].endswith("T00:00:00Z") or
                            f["occurredAt"].endswith("T23:00:00Z") for f in found))
        # The day shown is the day --from and --to select it by.
        for day, wanted in by_day.items():
            out = self.cli("findings", f"--from={day}", f"--to={day}", "--format=json").stdout
            got = [(g["ruleId"], g.get("caseId", ""), g["occurredAt"])
                   for g in map(json.loads, out.splitlines())]
            for w in wanted:
                self.assertIn(w, got, day)

    def test_names_from_council_systems_cannot_drive_the_terminal(self):
        # A group's name is free text from a council system; tables print
        # its escape sequences, C1 controls and bidi overrides as escapes,
        # while JSON and the signed CSV keep the name exactly.
        server = Server(os.path.join(self.tmp, "hostile-names"), ["--demo"])
        try:
            def cli(*args):
                result = subprocess.run([ARGS.evenhand, f"--server={server.address}", *args],
                                        capture_output=True, timeout=30)
                self.assertEqual(result.returncode, 0, result.stderr)
                return result.stdout
            name = "Ind\x1b]0;owned\x07 \u202eesrever\u202c \x9b=1+1"
            at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
            for m in ("ev-1", "ev-2"):
                cli("append", f"--stream=member-{m}", "--type=MemberRegistered",
                    f'--payload={{"memberId": "{m}", "name": "Cllr {m}"}}', f"--occurred-at={at}")
            cli("append", "--stream=group-evil", "--type=PoliticalGroupRecognised",
                "--payload=" + json.dumps({"groupId": "evil", "name": name,
                                           "memberIds": ["ev-1", "ev-2"]}),
                f"--occurred-at={at}")
            cli("append", "--stream=briefing-B-x", "--type=BriefingRequested",
                '--payload={"briefingId": "B-x", "groupId": "green", "topic": "Bins", '
                '"matterId": "bins", "requestedByMemberId": "green-1", '
                '"routedToOfficerId": "o-ceo"}', f"--occurred-at={at}")
            cli("append", "--stream=briefing-B-x", "--type=BriefingApproved",
                '--payload={"briefingId": "B-x", "approvedByOfficerId": "o-ceo"}',
                f"--occurred-at={at}")
            cli("append", "--stream=briefing-B-x", "--type=BriefingDelivered",
                '--payload={"briefingId": "B-x", "officerIds": ["o-ceo"], '
                '"durationMinutes": 30, "business": "COUNCIL_BUSINESS"}', f"--occurred-at={at}")
            table = cli("due", "--group=evil")
            self.assertIn(b"Ind\\x1b]0;owned\\x07 \\u202eesrever\\u202c \\u009b=1+1 is owed",
                          table)
            for raw in (b"\x1b", b"\x07", "\u202e".encode(), "\x9b".encode()):
                self.assertNotIn(raw, table)
            owed = json.loads(cli("due", "--group=evil", "--format=json").splitlines()[0])
            self.assertTrue(owed["description"].startswith(name + " is owed"))
            # The CSV is the signed document, byte for byte: the name as
            # given, but as text a spreadsheet will not run.
            csv = cli("report", "--format=csv").decode()
            row = [l for l in csv.splitlines() if l.startswith("evil,")]
            self.assertEqual(len(row), 1, csv)
            self.assertTrue(row[0].startswith(f"evil,{name},2,"), row)
        finally:
            self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--evenhandd", required=True)
    parser.add_argument("--evenhand", required=True)
    parser.add_argument("--make_certs", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
