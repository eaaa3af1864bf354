#!/usr/bin/python3
"""The `evenhand` command-line client given local files that are not what
a command reads: a folder, an empty file, a file larger than any bundle or
report can be. Each is refused at once, naming the file and the flag, with
the documented exit code (4: a file that cannot be read; 1: VERIFICATION
FAILED for what cannot be the evidence it should; 2: a flag's file that is
not what the flag takes), and without reading gigabytes first. No server is
needed: the commands check files before they ask one.

  /usr/bin/python3 tests/clients/cli_files_test.py --evenhand PATH
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ARGS = None


class LocalFiles(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="evenhand-cli-files-")
        cls.folder = os.path.join(cls.tmp, "a-folder")
        os.mkdir(cls.folder)
        cls.empty = os.path.join(cls.tmp, "empty")
        open(cls.empty, "w").close()
        # Sparse: no disk is used, but its size is past protobuf's 2 GiB.
        cls.huge = os.path.join(cls.tmp, "huge")
        with open(cls.huge, "wb") as f:
            f.truncate((2 << 30) + (1 << 20))
        cls.key = os.path.join(cls.tmp, "council.pem")
        private = os.path.join(cls.tmp, "council.key")
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", private],
                       check=True, capture_output=True)
        subprocess.run(["openssl", "pkey", "-in", private, "-pubout", "-out", cls.key],
                       check=True, capture_output=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def cli(self, *args):
        # No server listens on port 1: nothing here may need one.
        return subprocess.run([ARGS.evenhand, "--server=127.0.0.1:1", *args],
                              capture_output=True, text=True, timeout=60)

    def test_a_folder_is_exit_4_naming_it(self):
        for args in (["verify", self.folder],
                     ["verify-report", self.folder, f"--pubkey={self.key}"],
                     ["report", f"--offline={self.folder}"],
                     ["verify", "--server", f"--pubkey={self.folder}"],
                     ["verify", "--server", f"--pubkey={self.key}", f"--checkpoint={self.folder}"],
                     ["verify", "--server", f"--save-checkpoint={self.folder}"]):
            result = self.cli(*args)
            self.assertEqual(result.returncode, 4, (args, result.stderr))
            self.assertIn(f"{self.folder}: it is a folder", result.stderr, args)
            self.assertNotIn("VERIFIED", result.stdout, args)

    def test_an_empty_or_huge_file_is_not_evidence(self):
        for path, says in ((self.empty, "is empty: not a"),
                           (self.huge, "larger than any")):
            for args in (["verify", path],
                         ["verify-report", path, f"--pubkey={self.key}"],
                         ["report", f"--offline={path}"]):
                result = self.cli(*args)
                self.assertEqual(result.returncode, 1, (args, result.stderr))
                self.assertIn("VERIFICATION FAILED", result.stderr, args)
                self.assertIn(says, result.stderr, args)
                self.assertNotIn("terminate called", result.stderr, args)
        # A flag's file that is empty is a usage error, as one that does not
        # parse is.
        result = self.cli("verify", "--server", f"--pubkey={self.key}",
                          f"--checkpoint={self.empty}")
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("--checkpoint", result.stderr)
        self.assertIn("is empty: not a saved checkpoint", result.stderr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--evenhand", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
