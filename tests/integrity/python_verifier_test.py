#!/usr/bin/python3
"""A second, independent verifier (evenhand_verify.py, written from
docs/INTEGRITY.md) checks the shipped test vectors and refuses every byte of
the vector bundle changed, and agrees with `evenhand verify` on bundles
exported by a real evenhandd: pristine ones, a sample of flipped bytes, and
every kind of tampering, including tampering made consistent again with the
log's own key.

  /usr/bin/python3 tests/integrity/python_verifier_test.py --evenhandd PATH \
      --evenhand PATH --proto_dir proto --vectors docs/vectors
"""

import argparse
import base64
import glob
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
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import evenhand_verify as ev  # noqa: E402
sys.path.insert(0, os.path.join(HERE, "..", "testing"))
from child_server import ChildServer  # noqa: E402

PB2 = None


def generate_pb2(proto_dir, out_dir):
    protos = sorted(glob.glob(os.path.join(proto_dir, "evenhand", "v1", "*.proto")))
    subprocess.run(["protoc", f"--proto_path={proto_dir}", f"--python_out={out_dir}", *protos],
                   check=True)
    return ev.load_pb2(out_dir)


# What evenhand_verify.py says when an exception escaped every named check.
CATCH_ALL = re.compile(r"cannot be (checked|decoded) \(")


class Vectors(unittest.TestCase):
    """docs/vectors, checked from the spec alone; every byte of the vector
    bundle changed is refused with Rejected, never another exception."""

    @classmethod
    def setUpClass(cls):
        with open(os.path.join(ARGS.vectors, "vectors.json")) as f:
            cls.v = json.load(f)

    def file(self, name, mode="rb"):
        with open(os.path.join(ARGS.vectors, name), mode) as f:
            return f.read()

    def test_events_hash_and_chain(self):
        audit_pb2, events_pb2 = PB2
        chain = bytes(32)
        leaves = []
        for i, e in enumerate(self.v["events"]):
            canonical = bytes.fromhex(e["canonical"])
            record = ev.decode_record(canonical, events_pb2.RecordedEvent)
            self.assertEqual(record.position, i + 1)
            self.assertEqual(record.event.stream_id, e["event"]["event"]["stream_id"])
            self.assertEqual(b"EHR1" + ev.encode_message(record), canonical)
            self.assertEqual(ev.leaf_hash(canonical).hex(), e["leaf_hash"])
            chain = ev.sha256(chain, canonical)
            self.assertEqual(chain.hex(), e["chain_hash"])
            leaves.append(ev.leaf_hash(canonical))
            self.assertEqual(ev.mth(leaves).hex(), e["root_after"])
            self.assertEqual(self.v["roots"][i], e["root_after"])
        self.assertEqual(ev.mth([]).hex(), self.v["empty_tree_root"])

    def test_a_changed_byte_of_a_canonical_record_does_not_decode_as_itself(self):
        _, events_pb2 = PB2
        canonical = bytes.fromhex(self.v["events"][3]["canonical"])
        with self.assertRaises(ev.Rejected):
            ev.decode_record(canonical + b"\x00", events_pb2.RecordedEvent)
        # A field number changed (to one RecordedEvent lacks); the last byte cut.
        for bad in (canonical[:20] + b"\x07" + canonical[21:], canonical[:-1]):
            with self.assertRaises(ev.Rejected):
                ev.decode_record(bad, events_pb2.RecordedEvent)

    def test_proofs(self):
        roots = [bytes.fromhex(r) for r in self.v["roots"]]
        n = len(roots)
        for p in self.v["inclusion_proofs"]:
            leaf = bytes.fromhex(self.v["events"][p["leaf_index"]]["leaf_hash"])
            path = [bytes.fromhex(h) for h in p["path"]]
            self.assertTrue(ev.verify_inclusion(p["leaf_index"], n, leaf, path, roots[-1]))
            self.assertFalse(ev.verify_inclusion(p["leaf_index"], n, leaf[::-1], path, roots[-1]))
        c = self.v["consistency_proof"]
        path = [bytes.fromhex(h) for h in c["path"]]
        self.assertTrue(ev.verify_consistency(c["from_size"], c["to_size"],
                                              bytes.fromhex(c["from_root"]),
                                              bytes.fromhex(c["to_root"]), path))
        self.assertFalse(ev.verify_consistency(c["from_size"], c["to_size"], roots[1],
                                               bytes.fromhex(c["to_root"]), path))

    def test_stream_map(self):
        m = self.v["stream_map"]
        heads = {e["stream_id"]: (e["last_revision"], e["last_position"]) for e in m["entries"]}
        self.assertEqual(ev.map_root(heads).hex(), m["root"])
        for e in m["entries"]:
            key = hashlib.sha256(e["stream_id"].encode()).digest()
            self.assertEqual(key.hex(), e["key"])
            self.assertEqual(ev.entry_hash(key, e["last_revision"], e["last_position"]).hex(),
                             e["entry_hash"])
            sib = [bytes.fromhex(s) for s in e["siblings"]]
            root = bytes.fromhex(m["root"])
            self.assertTrue(ev.verify_stream_head(root, e["stream_id"], e["last_revision"],
                                                  e["last_position"], sib))
            self.assertFalse(ev.verify_stream_head(root, e["stream_id"], e["last_revision"] - 1,
                                                   e["last_position"], sib))

    def test_checkpoint_and_key(self):
        audit_pb2, _ = PB2
        from google.protobuf import json_format
        pem = self.file("public-key.pem", "r")
        raw = ev.raw_from_pem(pem)
        self.assertEqual(raw.hex(), self.v["public_key"])
        self.assertEqual(ev.pem_of(raw), pem)
        self.assertEqual(ev.key_id(raw), self.v["key_id"])
        body, sig = self.file("checkpoint.body"), self.file("checkpoint.sig")
        self.assertTrue(ev.ed25519_ok(raw, body, sig))
        self.assertFalse(ev.ed25519_ok(raw, body + b"\n", sig))
        saved = json_format.Parse(self.file("checkpoint.json", "r"), audit_pb2.SignedCheckpoint())
        self.assertEqual(saved.signed_body, body)
        ev.verify_checkpoint(saved, raw)
        self.assertEqual(saved.checkpoint.root_hash.hex(), self.v["roots"][-1])
        self.assertEqual(saved.checkpoint.chain_head.hex(), self.v["chain_hashes"][-1])
        self.assertEqual(saved.checkpoint.stream_map_root.hex(), self.v["stream_map"]["root"])
        # The secret key is RFC 8032's: its public half is the published one.
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives import serialization
        secret = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(self.v["secret_key"]))
        self.assertEqual(secret.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw), raw)

    def test_bundle(self):
        data = self.file("bundle-briefing-B-7.ehb")
        raw = ev.raw_from_pem(self.file("public-key.pem", "r"))
        report = ev.verify_bundle(data, PB2, raw)
        self.assertEqual(report["streams"], {"briefing-B-7": (3, 3)})
        audit_pb2, _ = PB2
        b = audit_pb2.InvestigationBundle()
        b.ParseFromString(data)
        signed = b"evenhand bundle manifest v2\n" + ev.encode_message(b.manifest)
        self.assertEqual(signed, self.file("bundle-manifest.signed"))
        self.assertEqual(signed.hex(), self.v["manifest_signed_bytes"])


    def rejections(self, copies):
        """Runs the verifier on each (name, bytes) with fd 2 silenced (protobuf's
        C++ parser logs each string that is not UTF-8); returns the names it
        verified and those it failed with anything but Rejected."""
        raw = ev.raw_from_pem(self.file("public-key.pem", "r"))
        verified, crashed = [], []
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 2)
            for name, data in copies:
                try:
                    ev.verify_bundle(data, PB2, raw)
                    verified.append(name)
                except ev.Rejected as e:
                    if not str(e):
                        crashed.append(f"{name}: Rejected without a message")
                    elif CATCH_ALL.search(str(e)):
                        # The verifier's last resort, not a check that
                        # named the problem.
                        crashed.append(f"{name}: {e}")
                except Exception as e:  # noqa: BLE001 - the point of the test
                    crashed.append(f"{name}: {type(e).__name__}: {e}")
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        return verified, crashed

    def test_every_flipped_byte_of_the_vector_bundle_is_rejected(self):
        # Each byte XORed with each mask (0x5A on bytes 1260-1263 once made an
        # int32 out of range, which escaped as protobuf's ValueError).
        data = self.file("bundle-briefing-B-7.ehb")
        copies = []
        for mask in (0x01, 0x5A, 0x80, 0xFF):
            for i in range(len(data)):
                bad = bytearray(data)
                bad[i] ^= mask
                copies.append((f"byte {i} ^ {mask:#04x}", bytes(bad)))
        verified, crashed = self.rejections(copies)
        self.assertEqual(crashed, [])
        self.assertEqual(verified, [])
        self.assertEqual(len(copies), 4 * len(data))

    def test_an_out_of_range_32_bit_value_is_rejected_naming_the_field(self):
        data = bytearray(self.file("bundle-briefing-B-7.ehb"))
        data[1260] ^= 0x5A
        with self.assertRaisesRegex(ev.Rejected, "Timestamp.nanos holds .*outside the range"):
            ev.verify_bundle(bytes(data), PB2)

    def test_any_altered_byte_of_the_vector_bundles_pem_is_rejected(self):
        audit_pb2, _ = PB2
        b = audit_pb2.InvestigationBundle()
        b.ParseFromString(self.file("bundle-briefing-B-7.ehb"))
        pem = b.public_key.pem
        copies = []
        for i in range(len(pem)):
            # Every control character and space (OpenSSL's PEM reader skips
            # many of them), and the byte's low bit flipped.
            for c in list(range(0x21)) + [ord(pem[i]) ^ 0x01]:
                if ord(pem[i]) == c:
                    continue
                b.public_key.pem = pem[:i] + chr(c) + pem[i + 1:]
                copies.append((f"pem byte {i} -> {c:#04x}",
                               b.SerializeToString(deterministic=True)))
        b.public_key.pem = pem + "\n"
        copies.append(("pem + LF", b.SerializeToString(deterministic=True)))
        verified, crashed = self.rejections(copies)
        self.assertEqual((verified, crashed), ([], []))
        self.assertGreater(len(copies), 3500)
        with self.assertRaisesRegex(ev.Rejected, "PEM form"):
            ev.verify_bundle(copies[0][1], PB2)

    def test_flipped_bytes_of_canonical_records_decode_or_are_rejected(self):
        # A flipped byte inside a string may still decode (to another event):
        # what must never happen is an exception other than Rejected.
        _, events_pb2 = PB2
        crashed = []
        for e in self.v["events"]:
            canonical = bytes.fromhex(e["canonical"])
            for mask in (0x01, 0x5A, 0x80, 0xFF):
                for i in range(len(canonical)):
                    bad = bytearray(canonical)
                    bad[i] ^= mask
                    try:
                        ev.decode_record(bytes(bad), events_pb2.RecordedEvent)
                    except ev.Rejected as x:
                        if CATCH_ALL.search(str(x)):
                            crashed.append(f"position {e['position']} byte {i} ^ {mask}: {x}")
                    except Exception as x:  # noqa: BLE001
                        crashed.append(f"position {e['position']} byte {i} ^ {mask}: "
                                       f"{type(x).__name__}: {x}")
        self.assertEqual(crashed, [])


class Agreement(unittest.TestCase):
    """Both verifiers, on bundles from a real server, pristine and tampered."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="evenhand-pyverify-")
        data = os.path.join(cls.tmp, "data")
        cls.server = ChildServer(ARGS.evenhandd, data, ["--demo"])
        cls.pubkey = os.path.join(cls.tmp, "council.pem")
        with open(cls.pubkey, "w") as f:
            f.write(cls.cli("pubkey").stdout)
        from cryptography.hazmat.primitives import serialization
        with open(os.path.join(data, "signing-key.pem"), "rb") as f:
            cls.key = serialization.load_pem_private_key(f.read(), password=None)
        cls.bundles = {}
        for name, args in (("case", ["--case=complaint-C-RT-1"]),
                           ("group", ["--group=green"]),
                           ("everything", [])):
            path = os.path.join(cls.tmp, name + ".ehb")
            cls.cli("export", *args, f"--output={path}", "--description=test")
            with open(path, "rb") as f:
                cls.bundles[name] = f.read()

    @classmethod
    def tearDownClass(cls):
        assert cls.server.stop() == 0
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def cli(cls, *args, check=True):
        result = subprocess.run([ARGS.evenhand, f"--server={cls.server.address}", *args],
                                capture_output=True, text=True, timeout=60)
        if check and result.returncode != 0:
            raise AssertionError(result.stderr)
        return result

    def both(self, data, name):
        """(C++ verdict, Python verdict, C++ output, Python's message): True
        for verified. The Python verifier raising anything but Rejected is a
        failure of this test, named as such."""
        path = os.path.join(self.tmp, name + ".check.ehb")
        with open(path, "wb") as f:
            f.write(data)
        cpp = self.cli("verify", path, f"--pubkey={self.pubkey}", check=False)
        self.assertIn(cpp.returncode, (0, 1, 3), cpp.stderr)  # not a crash or usage error
        with open(self.pubkey) as f:
            trusted = ev.raw_from_pem(f.read())
        try:
            ev.verify_bundle(data, PB2, trusted)
            py, said = True, "VERIFIED"
        except ev.Rejected as e:
            py, said = False, str(e)
        except Exception as e:  # noqa: BLE001
            self.fail(f"{name}: the Python verifier raised {type(e).__name__} ({e}) instead of "
                      f"Rejected; `evenhand verify` said: {cpp.stdout + cpp.stderr}")
        if not py:
            self.assertTrue(said, f"{name}: the Python verifier rejected without a message")
        return cpp.returncode == 0, py, cpp.stdout + cpp.stderr, said

    def assertAgree(self, data, name, verified):
        """Both verdicts are `verified`; returns (C++ output, Python's message)."""
        cpp, py, out, said = self.both(data, name)
        self.assertEqual((cpp, py), (verified, verified), f"{name}: C++: {out}\nPython: {said}")
        return out, said

    def parse(self, name):
        audit_pb2, _ = PB2
        b = audit_pb2.InvestigationBundle()
        b.ParseFromString(self.bundles[name])
        return b

    def resign_manifest(self, b):
        b.manifest_signature = self.key.sign(
            b"evenhand bundle manifest v2\n" + ev.encode_message(b.manifest))

    def encode(self, b):
        return b.SerializeToString(deterministic=True)

    def test_pristine_bundles_verify_in_both(self):
        for name, data in self.bundles.items():
            out, _ = self.assertAgree(data, name, True)
            self.assertIn("VERIFIED", out)
        report = ev.verify_bundle(self.bundles["case"], PB2)
        self.assertEqual(list(report["streams"].values()), [(2, 2)])
        self.assertTrue(ev.verify_bundle(self.bundles["everything"], PB2)["whole_log"])
        out = self.cli("verify", os.path.join(self.tmp, "case.ehb")).stdout
        self.assertIn("complete as of checkpoint", out)

    def test_flipped_bytes_are_rejected_by_both(self):
        data = self.bundles["case"]
        step = max(1, len(data) // 150)
        for i in range(0, len(data), step):
            bad = bytearray(data)
            bad[i] ^= 0x5A
            self.assertAgree(bytes(bad), f"flip-{i}", False)

    def test_trailing_and_repeated_bytes_are_rejected_by_both(self):
        for tail in (b"\x08\x02", b"\x00", b"\n", b"\x0a\x00"):
            self.assertAgree(self.bundles["case"] + tail, f"tail-{tail.hex()}", False)

    def test_any_byte_of_the_pem_changed_is_rejected_by_both(self):
        b = self.parse("case")
        pem = b.public_key.pem
        for i in (len(pem) - 1, len(pem) - 2, 26, 27, 40, 87):
            for c in (0x00, 0x09, 0x0D, 0x20, ord("A")):
                if ord(pem[i]) == c:
                    continue
                b2 = self.parse("case")
                b2.public_key.pem = pem[:i] + chr(c) + pem[i + 1:]
                out, said = self.assertAgree(self.encode(b2), f"pem-{i}-{c}", False)
                self.assertIn("PEM form", out)
                self.assertIn("PEM form", said)

    def test_a_withheld_event_of_a_case_is_rejected_by_both(self):
        b = self.parse("case")
        del b.events[0]
        del b.manifest.positions[0]
        self.resign_manifest(b)
        out, said = self.assertAgree(self.encode(b), "withheld", False)
        self.assertIn("incomplete", out)
        self.assertIn("incomplete", said)
        # The completeness claim dropped too: both verify, neither says complete.
        b.manifest.ClearField("complete_streams")
        self.resign_manifest(b)
        out, _ = self.assertAgree(self.encode(b), "withheld-unclaimed", True)
        self.assertIn("partial: 1 of its 2 events", out)
        self.assertEqual(list(ev.verify_bundle(self.encode(b), PB2)["streams"].values()),
                         [(1, 2)])

    def test_a_chain_rewritten_from_any_seed_is_rejected_by_both(self):
        for seed in (b"\x01" * 32, hashlib.sha256(b"made up").digest(), b"\xff" * 32):
            b = self.parse("everything")
            chain = seed
            for e in b.events:
                chain = ev.sha256(chain, e.canonical)
            c = b.checkpoint.checkpoint
            c.chain_head = chain
            b.checkpoint.signed_body = ev.checkpoint_body(c)
            b.checkpoint.signature = self.key.sign(b.checkpoint.signed_body)
            out, said = self.assertAgree(self.encode(b), "chain-" + seed[:2].hex(), False)
            self.assertIn("chain head", out)
            self.assertIn("chain head", said)

    def test_removed_swapped_and_altered_events_are_rejected_by_both(self):
        b = self.parse("group")
        del b.events[1]
        self.assertAgree(self.encode(b), "removed", False)
        b = self.parse("group")
        b.events[0].canonical, b.events[1].canonical = b.events[1].canonical, b.events[0].canonical
        self.assertAgree(self.encode(b), "swapped", False)
        b = self.parse("group")
        b.stream_heads[0].last_revision += 1
        self.assertAgree(self.encode(b), "head", False)
        b = self.parse("group")
        del b.stream_heads[0]
        self.assertAgree(self.encode(b), "no-head", False)


def main():
    global ARGS, PB2
    parser = argparse.ArgumentParser()
    parser.add_argument("--evenhandd", required=True)
    parser.add_argument("--evenhand", required=True)
    parser.add_argument("--proto_dir", required=True)
    parser.add_argument("--vectors", required=True)
    ARGS, rest = parser.parse_known_args()
    out = tempfile.mkdtemp(prefix="evenhand-pb2-")
    try:
        PB2 = generate_pb2(ARGS.proto_dir, out)
        unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
    finally:
        shutil.rmtree(out, ignore_errors=True)


class ReportAgreement(unittest.TestCase):
    """Both verifiers (evenhand_verify.verify_report, written from
    docs/INTEGRITY.md "Signed reports", and `evenhand verify-report`) on
    signed reports from a real server, pristine and with bytes changed."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="evenhand-pyreport-")
        cls.server = ChildServer(ARGS.evenhandd, os.path.join(cls.tmp, "data"), ["--demo"])
        cls.pubkey = os.path.join(cls.tmp, "council.pem")
        cls.cli("pubkey", f"--output={cls.pubkey}")
        with open(cls.pubkey) as f:
            cls.raw = ev.raw_from_pem(f.read())
        cls.reports = {}
        for name, args in (("page.html", []), ("report.json", ["--format=json"]),
                           ("old.html", ["--as-of=700"]),
                           ("findings.csv", ["--format=csv", "--table=findings"])):
            path = os.path.join(cls.tmp, name)
            cls.cli("report", *args, f"--output={path}")
            with open(path, "rb") as f:
                cls.reports[name] = f.read()

    @classmethod
    def tearDownClass(cls):
        assert cls.server.stop() == 0
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def cli(cls, *args, check=True):
        result = subprocess.run([ARGS.evenhand, f"--server={cls.server.address}", *args],
                                capture_output=True, text=True, errors="replace", timeout=60)
        if check and result.returncode != 0:
            raise AssertionError(result.stderr)
        return result

    def assertAgree(self, data, name, verified):
        path = os.path.join(self.tmp, "check-" + name)
        with open(path, "wb") as f:
            f.write(data)
        cpp = self.cli("verify-report", path, f"--pubkey={self.pubkey}", check=False)
        self.assertIn(cpp.returncode, (0, 1), cpp.stderr)
        try:
            ev.verify_report(data, self.raw)
            py = True
        except (ev.Rejected, UnicodeDecodeError):
            py = False
        self.assertEqual((cpp.returncode == 0, py), (verified, verified),
                         f"{name}: {cpp.stdout}{cpp.stderr}")

    def test_pristine_reports_verify_in_both(self):
        for name, data in self.reports.items():
            self.assertAgree(data, name, True)
        st = ev.verify_report(self.reports["old.html"], self.raw)
        self.assertEqual(st["size"], "700")

    def test_changed_bytes_are_rejected_by_both(self):
        # Each changed copy is checked by the Python verifier here, and all of
        # them by one run of `evenhand verify-report`, which names each in
        # its verdict (a thousand runs of the sanitized build took minutes).
        paths = []
        for name in ("page.html", "findings.csv"):
            data = self.reports[name]
            line = data.index(b"evenhand-report-signature")
            # Every byte of the signature line's first part, and a sample of the rest.
            offsets = list(range(line - 8, line + 400)) + \
                list(range(0, len(data), max(1, len(data) // 120)))
            for i in sorted(set(o for o in offsets if 0 <= o < len(data))):
                bad = bytearray(data)
                bad[i] ^= 0x01 if data[i] != 0x0A else 0x20
                path = os.path.join(self.tmp, f"changed-{i}-{name}")
                with open(path, "wb") as f:
                    f.write(bad)
                paths.append(path)
                with self.assertRaises((ev.Rejected, UnicodeDecodeError), msg=path):
                    ev.verify_report(bytes(bad), self.raw)
        cpp = self.cli("verify-report", *paths, f"--pubkey={self.pubkey}", check=False)
        self.assertEqual(cpp.returncode, 1, cpp.stderr[-2000:])
        self.assertIn(f"0 of {len(paths)} reports verified", cpp.stdout)
        failed = [l for l in cpp.stderr.splitlines() if l.startswith("VERIFICATION FAILED: ")]
        self.assertEqual(len(failed), len(paths))
        for path, line in zip(paths, failed):
            self.assertTrue(line.startswith(f"VERIFICATION FAILED: {path}: "), line)

    def test_a_report_checked_with_another_key_is_rejected_by_both(self):
        other = os.path.join(self.tmp, "other.pem")
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives import serialization
        raw = Ed25519PrivateKey.generate().public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        with open(other, "w") as f:
            f.write(ev.pem_of(raw))
        path = os.path.join(self.tmp, "page.html")
        cpp = self.cli("verify-report", path, f"--pubkey={other}", check=False)
        self.assertEqual(cpp.returncode, 1)
        with self.assertRaises(ev.Rejected):
            ev.verify_report(self.reports["page.html"], raw)


if __name__ == "__main__":
    main()
