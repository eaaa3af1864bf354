#!/usr/bin/python3
"""Signed reports end to end: the committee's report from a real evenhandd,
checked with `evenhand verify-report`, recomputed from an exported bundle by
`evenhand report --offline`, byte for byte, and refused when tampered with or
tied to another log.

  /usr/bin/python3 tests/clients/signed_report_test.py --evenhandd PATH --evenhand PATH \
      --demo_config demo/evenhandd.demo.json
"""

import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

ARGS = None
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testing"))
from child_server import ChildServer  # noqa: E402

MARKER = "evenhand-report-signature v1"


def without_signature_line(text):
    return "".join(l for l in text.splitlines(keepends=True) if MARKER not in l)


class SignedReports(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="evenhand-signed-")
        # The demo council, with the demo's configuration (its council name
        # is part of the rule set a report names).
        cls.server = ChildServer(ARGS.evenhandd, os.path.join(cls.tmp, "data"),
                                 ["--demo", f"--config={ARGS.demo_config}"], timeout=20)
        cls.key = cls.path("council.pem")
        cls.run_cli(cls.server, "pubkey", f"--output={cls.key}")
        # The reports first, then the export: each report is itself recorded
        # in the log (an access record), so the bundle must come after them.
        cls.reports = {}
        for name, flags in {
            "now.html": [],
            "now.json": ["--format=json"],
            "groups.csv": ["--format=csv"],
            "findings.csv": ["--format=csv", "--table=findings"],
            "access.csv": ["--format=csv", "--table=access"],
            "q2.html": ["--from=2026-04-01", "--to=2026-06-30"],
            "at-1500.json": ["--as-of=1500", "--format=json", "--from=2026-01-01"],
        }.items():
            cls.run_cli(cls.server, "report", *flags, f"--output={cls.path(name)}")
            cls.reports[name] = cls.read(name)
        cls.bundle = cls.path("whole-log.ehb")
        cls.run_cli(cls.server, "export", f"--output={cls.bundle}")

    @classmethod
    def tearDownClass(cls):
        assert cls.server.stop() == 0
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def path(cls, name):
        return os.path.join(cls.tmp, name)

    @classmethod
    def read(cls, name):
        with open(cls.path(name), encoding="utf-8") as f:
            return f.read()

    @classmethod
    def run_cli(cls, server, *args, check=True):
        result = subprocess.run([ARGS.evenhand, f"--server={server.address}", *args],
                                capture_output=True, text=True, timeout=60)
        if check and result.returncode != 0:
            raise AssertionError(f"evenhand {' '.join(args)}: {result.stderr}")
        return result

    def cli(self, *args, check=True):
        return self.run_cli(self.server, *args, check=check)

    def write(self, name, text):
        with open(self.path(name), "w", encoding="utf-8") as f:
            f.write(text)
        return self.path(name)

    # ---- what every report states ------------------------------------------

    def test_every_form_states_its_checkpoint_rules_and_key(self):
        for name, text in self.reports.items():
            self.assertEqual(sum(MARKER in l for l in text.splitlines()), 1, name)
            self.assertRegex(text, r"sha256:[0-9a-f]{16}", name)
            self.assertIn("Demo Borough Council", text, name)
        html = self.reports["now.html"]
        self.assertIn('id="provenance"', html)
        self.assertRegex(html, r"the first \d+ events of log [0-9a-f-]+ \(Merkle root [0-9a-f]{64}\)")
        report = json.loads(self.reports["now.json"])
        self.assertEqual(report["provenance"]["treeSize"], report["asOfPosition"])
        # Where the log had got to since is no part of a signed document: the
        # field is absent, not a false 0.
        self.assertNotIn("logLastPosition", report)
        self.assertTrue(report["signature"]["value"].startswith(MARKER))
        self.assertTrue(self.reports["groups.csv"].splitlines()[-2].startswith("# evenhand report:"))
        # A period left open ends at the as-of time, included, as the signed
        # statement and verify-report say.
        self.assertIn("to the as-of time (included; asked for with no end)",
                      self.reports["groups.csv"].splitlines()[-2])

    def test_verify_report_checks_signature_and_checkpoint_of_each_form(self):
        for name in self.reports:
            out = self.cli("verify-report", self.path(name), f"--pubkey={self.key}").stdout
            self.assertIn("VERIFIED", out, name)
            self.assertIn("checkpoint   tree size", out, name)
        # An older report is tied to a later checkpoint by a consistency proof.
        out = self.cli("verify-report", self.path("at-1500.json"), f"--pubkey={self.key}").stdout
        self.assertIn("read         the first 1500 events", out)
        self.assertIn("proven a prefix of it", out)

    # ---- the same report without a server ----------------------------------

    def test_offline_recomputation_is_identical_byte_for_byte(self):
        for name, text in self.reports.items():
            out = self.path(f"offline-{name}")
            self.cli("report", f"--offline={self.bundle}", f"--like={self.path(name)}",
                     f"--config={ARGS.demo_config}", f"--pubkey={self.key}", f"--output={out}")
            with open(out, "rb") as f:
                offline = f.read()
            self.assertEqual(offline, without_signature_line(text).encode(), name)

    def test_offline_with_flags_answers_the_same_question(self):
        out = self.path("offline-1500.json")
        self.cli("report", f"--offline={self.bundle}", "--as-of=1500", "--format=json",
                 "--from=2026-01-01", f"--config={ARGS.demo_config}", f"--output={out}")
        with open(out, encoding="utf-8") as f:
            self.assertEqual(f.read(), without_signature_line(self.reports["at-1500.json"]))

    def test_verify_report_with_the_bundle_recomputes_and_compares(self):
        out = self.cli("verify-report", self.path("q2.html"), f"--pubkey={self.key}",
                       f"--bundle={self.bundle}", f"--config={ARGS.demo_config}").stdout
        self.assertIn("the same report, byte for byte", out)

    def test_offline_with_other_settings_says_so(self):
        result = self.cli("report", f"--offline={self.bundle}", f"--like={self.path('now.html')}",
                          check=False)
        self.assertEqual(result.returncode, 2)
        self.assertIn("(pass its configuration with --config)", result.stderr)

    def test_offline_refuses_a_bundle_of_one_case(self):
        part = self.path("one-case.ehb")
        self.cli("export", "--case=complaint-C-RT-1", f"--output={part}")
        result = self.cli("report", f"--offline={part}", check=False)
        self.assertEqual(result.returncode, 2)
        self.assertIn("export the whole log", result.stderr)

    # ---- refused --------------------------------------------------------------

    def test_one_changed_byte_of_html_or_json_is_refused(self):
        html = self.reports["now.html"]
        at = html.index("political groups</div>") - 10  # a figure of the summary
        changed = html[:at] + ("7" if html[at] != "7" else "8") + html[at + 1:]
        result = self.cli("verify-report", self.write("bad.html", changed),
                          f"--pubkey={self.key}", check=False)
        self.assertEqual(result.returncode, 1)
        self.assertIn("VERIFICATION FAILED", result.stderr)
        self.assertIn("content was changed after it was signed", result.stderr)
        text = self.reports["now.json"]
        at = text.index('"findingsHigh"')
        changed = text[:at + 1] + "F" + text[at + 2:]
        result = self.cli("verify-report", self.write("bad.json", changed),
                          f"--pubkey={self.key}", check=False)
        self.assertEqual(result.returncode, 1)
        self.assertIn("content was changed", result.stderr)
        # Line ends converted on the way (an email client): the cause is named.
        crlf = self.path("crlf.json")
        with open(crlf, "w", newline="\r\n") as f:
            f.write(text)
        result = self.cli("verify-report", crlf, f"--pubkey={self.key}", check=False)
        self.assertEqual(result.returncode, 1)
        self.assertIn("Windows line ends", result.stderr)

    def resigned(self, name, content):
        """`name`'s document with `content` instead of its own, its statement
        signed again with the server's key (as a server of an earlier or later
        layout would have signed that content)."""
        lines = self.reports[name].splitlines(keepends=True)
        at = next(i for i, l in enumerate(lines) if MARKER in l)
        line = lines[at]
        statement_b64 = re.search(r" statement=(\S+)", line).group(1)
        signature_b64 = re.search(r" signature=(\S+)", line).group(1)
        digest = base64.b64encode(hashlib.sha256(content.encode()).digest()).decode()
        statement = re.sub(r"(?m)^content .*$", "content " + digest,
                           base64.b64decode(statement_b64).decode())
        with open(self.path("statement"), "w", encoding="utf-8", newline="") as f:
            f.write(statement)
        subprocess.run(["openssl", "pkeyutl", "-sign", "-rawin",
                        "-inkey", os.path.join(self.tmp, "data", "signing-key.pem"),
                        "-in", self.path("statement"), "-out", self.path("statement.sig")],
                       check=True, capture_output=True)
        with open(self.path("statement.sig"), "rb") as f:
            signature = base64.b64encode(f.read()).decode()
        line = line.replace(statement_b64, base64.b64encode(statement.encode()).decode())
        line = line.replace(signature_b64, signature)
        content_lines = content.splitlines(keepends=True)
        content_lines.insert(at if at < len(lines) - 1 else len(content_lines), line)
        return "".join(content_lines)

    def test_a_report_of_another_layout_is_not_called_altered(self):
        # A page of a later layout (the markup differs, what it says does
        # not), and one of an earlier evenhand that stated no layout: both
        # signed, neither recomputes byte for byte here, and verify-report
        # says why with exit code 2 (not checked as asked), not 1.
        html = without_signature_line(self.reports["q2.html"])
        layout = re.search(r", layout (\d+)", html).group(1)
        later = html.replace(f", layout {layout}", f", layout {int(layout) + 1}").replace(
            "<h2>The rules checked</h2>", "<h2>Rules checked</h2>")
        earlier = html.replace(f", layout {layout}", "")
        for name, content, said in (
                ("later.html", later, f"was laid out with layout {int(layout) + 1}"),
                ("earlier.html", earlier, "from before report layouts were numbered")):
            path = self.write(name, self.resigned("q2.html", content))
            self.assertIn("VERIFIED", self.cli("verify-report", path,
                                               f"--pubkey={self.key}").stdout, name)
            result = self.cli("verify-report", path, f"--pubkey={self.key}",
                              f"--bundle={self.bundle}", f"--config={ARGS.demo_config}",
                              check=False)
            self.assertEqual(result.returncode, 2, result.stderr)
            self.assertIn(said, result.stderr, name)
            self.assertIn(f"this evenhand lays out layout {layout}", result.stderr, name)
            out = self.path(f"offline-{name}")
            result = self.cli("report", f"--offline={self.bundle}", f"--like={path}",
                              f"--config={ARGS.demo_config}", f"--output={out}")
            self.assertIn("differ in layout", result.stderr, name)
        # The same layout, signed, but not what the log gives: altered (1).
        altered = html.replace("<h2>The rules checked</h2>", "<h2>Rules checked</h2>")
        path = self.write("altered.html", self.resigned("q2.html", altered))
        result = self.cli("verify-report", path, f"--pubkey={self.key}",
                          f"--bundle={self.bundle}", f"--config={ARGS.demo_config}", check=False)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("does not recompute to it", result.stderr)
        # A JSON report states its layout in its provenance.
        report = json.loads(self.reports["now.json"])
        self.assertEqual(str(report["provenance"]["layout"]), layout)
        for name in ("groups.csv", "findings.csv", "access.csv"):
            self.assertIn(f", layout {layout}", self.reports[name].splitlines()[-2], name)

    def test_several_files_each_get_a_named_verdict_and_the_worst_exit_code(self):
        html = self.reports["now.html"]
        at = html.index("political groups</div>") - 10
        bad = self.write("several-bad.html", html[:at] + ("7" if html[at] != "7" else "8")
                         + html[at + 1:])
        good = [self.path("now.html"), self.path("at-1500.json"), self.path("groups.csv")]
        result = self.cli("verify-report", *good, f"--pubkey={self.key}",
                          f"--bundle={self.bundle}", f"--config={ARGS.demo_config}")
        for path in good:
            self.assertIn(f"report {path}: VERIFIED", result.stdout)
        self.assertEqual(result.stdout.count("the same report, byte for byte"), 3)
        self.assertIn("3 of 3 reports verified", result.stdout)
        # One changed: the others are still checked; exit 1 names it.
        result = self.cli("verify-report", good[0], bad, good[1], f"--pubkey={self.key}",
                          check=False)
        self.assertEqual(result.returncode, 1)
        self.assertIn(f"report {good[0]}: VERIFIED", result.stdout)
        self.assertIn(f"report {good[1]}: VERIFIED", result.stdout)
        self.assertIn(f"VERIFICATION FAILED: {bad}: ", result.stderr)
        self.assertIn("2 of 3 reports verified", result.stdout)
        # One missing: a failed one still decides (1), so that a script
        # looking for 1 is not told 4 instead (outside probe); the missing
        # one is named.
        missing = self.path("no-such-report.html")
        result = self.cli("verify-report", bad, missing, good[0], f"--pubkey={self.key}",
                          check=False)
        self.assertEqual(result.returncode, 1)
        self.assertIn(f"cannot read {missing}: no such file", result.stderr)
        self.assertIn(f"report {good[0]}: VERIFIED", result.stdout)
        self.assertIn("1 of 3 reports verified", result.stdout)
        # The bundle is read once a report is verified: a changed report is
        # refused (1) whatever the bundle; a missing one is then named (4
        # alone, 1 beside a failed one).
        result = self.cli("verify-report", bad, f"--pubkey={self.key}",
                          f"--bundle={self.path('no-such.ehb')}", check=False)
        self.assertEqual(result.returncode, 1, result.stderr)
        result = self.cli("verify-report", good[0], f"--pubkey={self.key}",
                          f"--bundle={self.path('no-such.ehb')}", check=False)
        self.assertEqual(result.returncode, 4, result.stderr)
        self.assertIn("no-such.ehb", result.stderr)
        result = self.cli("verify-report", bad, good[0], f"--pubkey={self.key}",
                          f"--bundle={self.path('no-such.ehb')}", check=False)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("no-such.ehb", result.stderr)

    def test_an_unsigned_file_is_not_a_signed_report(self):
        result = self.cli("verify-report", self.write(
            "unsigned.html", without_signature_line(self.reports["now.html"])),
            f"--pubkey={self.key}", check=False)
        self.assertEqual(result.returncode, 1)
        self.assertIn("no signature line", result.stderr)

    def test_another_logs_report_or_checkpoint_is_refused(self):
        other_dir = os.path.join(self.tmp, "other")
        os.makedirs(other_dir)
        other = ChildServer(ARGS.evenhandd, os.path.join(other_dir, "data"), ["--demo"],
                            timeout=20)
        try:
            other_key = self.path("other.pem")
            self.run_cli(other, "pubkey", f"--output={other_key}")
            self.run_cli(other, "report", f"--output={self.path('other.html')}")
        finally:
            self.assertEqual(other.stop(), 0)
        # The other council's report, checked with this council's key.
        result = self.cli("verify-report", self.path("other.html"), f"--pubkey={self.key}",
                          check=False)
        self.assertEqual(result.returncode, 1)
        self.assertIn("not with the key given", result.stderr)
        # This council's report, its checkpoint swapped for the other log's.
        ours, theirs = self.reports["now.html"], self.read("other.html")
        field = re.compile(r" checkpoint=\S+ checkpoint-signature=\S+")
        spliced = field.sub(lambda _: field.search(theirs).group(0), ours, count=1)
        self.assertNotEqual(spliced, ours)
        result = self.cli("verify-report", self.write("spliced.html", spliced),
                          f"--pubkey={self.key}", check=False)
        self.assertEqual(result.returncode, 1)
        self.assertIn("checkpoint: ", result.stderr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--evenhandd", required=True)
    parser.add_argument("--evenhand", required=True)
    parser.add_argument("--demo_config", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
