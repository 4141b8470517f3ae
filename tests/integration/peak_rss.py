"""A process's resident memory (VmRSS) sampled on a thread while a `with`
block runs: the integration tests bound chatd's growth with it, and
bench/files_bench.py reports its peak."""
import threading


class PeakRss:
    """`peak` is the highest VmRSS (bytes) seen while the block ran,
    sampled every `interval` seconds, and at its start and end."""

    def __init__(self, pid, interval=0.005):
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self.stop = threading.Event()

    def now(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS for %d" % self.pid)

    def run(self):
        while True:
            self.peak = max(self.peak, self.now())
            if self.stop.wait(self.interval):
                return

    def __enter__(self):
        self.peak = self.now()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self.peak = max(self.peak, self.now())
