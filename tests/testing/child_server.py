"""An evenhandd child on 127.0.0.1, for the Python tests: started with a
fresh port (read from its ready file), stopped with SIGTERM."""

import os
import signal
import subprocess
import time


class ChildServer:
    """evenhandd with its data in `data_dir` (log beside it, data_dir.log)."""

    def __init__(self, evenhandd, data_dir, extra=(), timeout=30):
        self.ready = data_dir + ".ready"
        if os.path.exists(self.ready):
            os.remove(self.ready)
        self.log = open(data_dir + ".log", "a")
        self.process = subprocess.Popen(
            [evenhandd, "--listen=127.0.0.1:0", f"--data_dir={data_dir}",
             f"--ready_file={self.ready}", *extra], stdout=self.log, stderr=self.log)
        deadline = time.time() + timeout
        while not os.path.exists(self.ready):
            if time.time() > deadline or self.process.poll() is not None:
                raise RuntimeError("evenhandd did not start")
            time.sleep(0.05)
        with open(self.ready) as f:
            self.address = f.read().strip()

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        self.log.close()
        return code
