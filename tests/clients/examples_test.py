#!/usr/bin/python3
"""The integration examples of clients/examples/ (docs/INTEGRATING.md), run
as an integrator would run them, against a real evenhandd on a scratch folder:
the Node.js one (@grpc/grpc-js, its modules from a build folder through
NODE_PATH) and the Python one (Debian's python3-grpcio). Each checks every
step itself and exits non-zero on any mismatch; this test fails if either
does, and prints what they printed.

  /usr/bin/python3 tests/clients/examples_test.py --evenhandd build/server/evenhandd \
      --proto_dir proto --node_modules build/examples-node/node_modules

scripts/test installs the node modules (scripts/lib.sh, install_node_modules:
npm ci from clients/examples/node/package-lock.json into build/examples-node).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ARGS = None
HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.normpath(os.path.join(HERE, "..", "..", "clients", "examples"))
sys.path.insert(0, os.path.join(HERE, "..", "testing"))
from child_server import ChildServer  # noqa: E402

STEPS = ["status", "group", "append", "retry", "read", "subscribe", "report", "inclusion",
         "checkpoint", "precondition", "invalid"]


class Examples(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="evenhand-examples-")
        # The examples wait for a signed checkpoint covering their event.
        # Audit.GetCheckpoint signs one of the current tree on demand today;
        # a checkpoint every second (the default is 60 s) keeps the wait
        # short should it ever return only the latest one signed.
        config = os.path.join(cls.tmp, "config.json")
        with open(config, "w") as f:
            json.dump({"audit": {"checkpointEverySeconds": 1}}, f)
        cls.server = ChildServer(ARGS.evenhandd, os.path.join(cls.tmp, "data"),
                                 [f"--config={config}"])

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        assert code == 0, f"evenhandd exited with {code}"

    def run_example(self, command, env=None):
        result = subprocess.run(
            [*command, f"--server={self.server.address}", f"--proto_dir={ARGS.proto_dir}",
             "--checkpoint_wait_seconds=30"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
        print(f"\n$ {' '.join(command)}\n{result.stdout}", end="", file=sys.stderr)
        self.assertEqual(result.returncode, 0, f"{command[-1]} failed:\n{result.stdout}")
        printed = [line.split()[0] for line in result.stdout.splitlines() if line.strip()]
        self.assertEqual(printed, STEPS + ["OK:"], "every step, one line each, in order")

    def test_node_example(self):
        modules = os.path.abspath(ARGS.node_modules)
        self.assertTrue(os.path.isdir(os.path.join(modules, "@grpc", "grpc-js")),
                        f"{modules} has no @grpc/grpc-js: run scripts/test, or source "
                        "scripts/lib.sh and run install_node_modules")
        env = dict(os.environ, NODE_PATH=modules)
        self.run_example([ARGS.node, os.path.join(EXAMPLES, "node", "example.js")], env)

    def test_python_example(self):
        self.run_example(["/usr/bin/python3", os.path.join(EXAMPLES, "python", "example.py")])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--evenhandd", required=True)
    parser.add_argument("--proto_dir", required=True)
    parser.add_argument("--node_modules", required=True,
                        help="where npm ci put clients/examples/node's packages")
    parser.add_argument("--node", default="node")
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
