#!/usr/bin/python3
"""The `evenhand` command-line client against a real evenhandd over TLS
(make-certs' certificates, a clerk's token), and a restart with --demo.
The local-mode commands are in cli_test.py.

  /usr/bin/python3 tests/clients/cli_tls_test.py --evenhandd PATH --evenhand PATH \
      --make_certs scripts/make-certs
"""

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

ARGS = None
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testing"))
from child_server import ChildServer  # noqa: E402


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def rs256_token(key_file, claims):
    """A JWT signed as the demo identity provider signs (RS256, openssl)."""
    header = b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "idp-rsa"}).encode())
    body = b64url(json.dumps(claims).encode())
    signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key_file],
                               input=f"{header}.{body}".encode(), capture_output=True,
                               check=True).stdout
    return f"{header}.{body}.{b64url(signature)}"


class CliOverTls(unittest.TestCase):
    """The CLI as people and systems use it against a TLS server: client
    certificates, a signed-in clerk's token, and the access records."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="evenhand-cli-tls-")
        cls.certs = os.path.join(cls.tmp, "certs")
        subprocess.run([ARGS.make_certs, cls.certs], check=True, stdout=subprocess.DEVNULL)
        cls.server = ChildServer(ARGS.evenhandd, os.path.join(cls.tmp, "data"),
                                 ["--demo", f"--config={cls.certs}/evenhandd.tls.json"],
                                 timeout=20)
        now = int(time.time())
        cls.token = os.path.join(cls.tmp, "clerk.jwt")
        with open(cls.token, "w") as f:
            f.write(rs256_token(os.path.join(cls.certs, "idp-rsa.key"), {
                "iss": "https://login.demo.council", "aud": "evenhand", "sub": "clerk.evans",
                "groups": ["standards-committee"], "iat": now, "exp": now + 600}))

    @classmethod
    def tearDownClass(cls):
        assert cls.server.stop() == 0
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def cli(self, *args, env=None, check=True):
        result = subprocess.run([ARGS.evenhand, f"--server={self.server.address}", *args],
                                capture_output=True, text=True, timeout=60,
                                env={**os.environ, **(env or {})})
        if check:
            self.assertEqual(result.returncode, 0, result.stderr)
        return result

    def as_role(self, role):
        return [f"--ca={self.certs}/ca.pem", f"--cert={self.certs}/{role}.pem",
                f"--key={self.certs}/{role}.key"]

    def test_status_with_a_client_certificate(self):
        out = self.cli(*self.as_role("monitoring"), "status").stdout
        self.assertIn("(TLS)", out)
        self.assertIn("last position", out)

    def test_the_environment_names_the_certificates(self):
        env = {"EVENHAND_CA": f"{self.certs}/ca.pem",
               "EVENHAND_CERT": f"{self.certs}/monitoring.pem",
               "EVENHAND_KEY": f"{self.certs}/monitoring.key"}
        self.assertIn("last position", self.cli("status", env=env).stdout)

    def test_a_clerk_signs_in_with_a_token_and_the_read_is_on_the_record(self):
        report = json.loads(self.cli(f"--ca={self.certs}/ca.pem", f"--token-file={self.token}",
                                     "report", "--format=json").stdout)
        self.assertGreater(len(report["findings"]), 0)
        out = self.cli(*self.as_role("auditor"), "access", "--principal=clerk.evans").stdout
        self.assertIn("evenhand.v1.Fairness/GetReport", out)
        self.assertIn("clerk.evans", out)

    def test_a_publisher_may_not_read_and_exit_code_says_the_server_refused(self):
        result = self.cli(*self.as_role("case-system"), "read", "--all", check=False)
        self.assertEqual(result.returncode, 3)
        self.assertIn("PERMISSION_DENIED", result.stderr)
        self.assertIn("needs the role auditor", result.stderr)
        # ...and the refusal is listed among the denied reads.
        out = self.cli(*self.as_role("auditor"), "access", "--principal=case-system",
                       "--denied").stdout
        self.assertIn("evenhand.v1.EventLog/ReadAll", out)

    def test_without_ca_the_cli_says_the_server_needs_it(self):
        result = self.cli("status", check=False)
        self.assertEqual(result.returncode, 3)
        self.assertIn("a server with TLS needs --ca", result.stderr)

    def test_a_ca_that_did_not_issue_the_servers_certificate_is_named(self):
        # make-certs' intruder certificate signed itself: no CA of the server's.
        result = self.cli(f"--ca={self.certs}/intruder.pem", "status", check=False)
        self.assertEqual(result.returncode, 3)
        self.assertIn("the server's certificate did not verify against --ca "
                      f"({self.certs}/intruder.pem)", result.stderr)
        self.assertNotIn("is evenhandd running", result.stderr)
        # The error once, in the CLI's words: not also gRPC's own log line.
        self.assertNotIn("ssl_transport_security", result.stderr)
        self.assertEqual(result.stderr.count("\nevenhand: ") + result.stderr.startswith(
            "evenhand: "), 1, result.stderr)

    def test_a_name_the_servers_certificate_does_not_hold_is_named(self):
        result = self.cli(*self.as_role("monitoring"), "--server-name=wrong.example", "status",
                          check=False)
        self.assertEqual(result.returncode, 3)
        self.assertIn('the server\'s certificate does not name "wrong.example": set --server-name',
                      result.stderr)

    def test_a_key_that_is_not_the_certificates_shows_what_grpc_said(self):
        result = self.cli(f"--ca={self.certs}/ca.pem", f"--cert={self.certs}/auditor.pem",
                          f"--key={self.certs}/monitoring.key", "status", check=False)
        self.assertEqual(result.returncode, 3)
        self.assertIn("gRPC: Invalid private key", result.stderr)

    def test_a_client_certificate_the_server_refuses_is_named(self):
        result = self.cli(f"--ca={self.certs}/ca.pem", f"--cert={self.certs}/intruder.pem",
                          f"--key={self.certs}/intruder.key", "status", check=False)
        self.assertEqual(result.returncode, 3)
        self.assertIn(f"it hung up on the client certificate ({self.certs}/intruder.pem)",
                      result.stderr)
        self.assertNotIn("ssl_transport_security", result.stderr)

    def test_a_token_is_never_sent_in_plain_text(self):
        result = self.cli(f"--token-file={self.token}", "status", check=False)
        self.assertEqual(result.returncode, 2)
        self.assertIn("sent only over TLS", result.stderr)


class DemoLoadsOnce(unittest.TestCase):
    def test_restarting_with_demo_does_not_load_it_twice(self):
        tmp = tempfile.mkdtemp(prefix="evenhand-demo-")
        try:
            data = os.path.join(tmp, "data")
            positions = []
            for _ in range(2):
                server = ChildServer(ARGS.evenhandd, data, ["--demo"], timeout=20)
                out = subprocess.run([ARGS.evenhand, f"--server={server.address}", "status"],
                                     capture_output=True, text=True, timeout=30).stdout
                positions.append([l for l in out.splitlines()
                                  if l.startswith("last position")][0])
                self.assertEqual(server.stop(), 0)
            self.assertEqual(positions[0], positions[1])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--evenhandd", required=True)
    parser.add_argument("--evenhand", required=True)
    parser.add_argument("--make_certs", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
