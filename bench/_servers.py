"""Child-process servers for the benchmarks: started, found by the URL they print, stopped."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

URL = r"(http://127\.0\.0\.1:\d+)"


class Server:
    """A child process that prints its URL once it listens."""

    def __init__(self, command: list[str], pattern: str = URL) -> None:
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert self.process.stdout is not None
        for line in self.process.stdout:
            found = re.search(pattern, line)
            if found:
                self.url = found.group(1)
                self.port = int(self.url.rsplit(":", 1)[1])
                return
        raise RuntimeError(f"{command[0]} did not start")

    def cpu_seconds(self) -> float:
        """User and system CPU time the server process has used so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_mb(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        kib = int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]
        return kib / 1024

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def profilemock(*args: str) -> Server:
    """``profilemock serve`` on a free port, quiet, with these extra arguments."""
    return Server([sys.executable, "-m", "profilemock", "serve", "--quiet", "--port", "0", *args])
