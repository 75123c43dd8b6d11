"""Child-process servers for the benchmarks: started, found by the URL they print, stopped."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

URL = r"(http://127\.0\.0\.1:\d+)"


class Server:
    """A child process that prints its URL once it listens.

    What it prints afterwards (Prism logs every request to stdout) is read and dropped by a
    thread, so a full pipe never stalls it; ``log`` names a file for its stderr (a server
    that logs there writes to a real file, as when a user redirects it).
    """

    def __init__(
        self,
        command: list[str],
        pattern: str = URL,
        log: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.started = time.perf_counter()
        self._log = open(log, "w") if log is not None else None  # noqa: SIM115
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=self._log or subprocess.DEVNULL,
            text=True,
            env=env,
        )
        self._tree = _TreeMemory(self.process.pid)
        assert self.process.stdout is not None
        for line in self.process.stdout:
            found = re.search(pattern, line)
            if found:
                self.url = found.group(1)
                self.port = int(self.url.rsplit(":", 1)[1])
                threading.Thread(target=self._drain, daemon=True).start()
                return
        raise RuntimeError(f"{command[0]} did not start")

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for _ in self.process.stdout:
            pass

    def cpu_seconds(self) -> float:
        """User and system CPU time the server process has used so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        """Resident memory now."""
        return self._status_kib("VmRSS") / 1024

    def peak_rss_mb(self) -> float:
        return self._status_kib("VmHWM") / 1024

    def tree_peak_mb(self) -> float:
        """The most memory the server and the processes it forked (to read its fixtures)
        held at once from its launch until now (the sampling stops here): their resident
        sets summed — a page a child shares with the server copy-on-write counts in each,
        so this is an upper bound — sampled every ``_TreeMemory.EVERY`` seconds."""
        return self._tree.stop() / 1024

    def _status_kib(self, field: str) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(rf"{field}:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]

    def stop(self) -> None:
        self._tree.stop()
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self._log is not None:
            self._log.close()


class _TreeMemory(threading.Thread):
    """Samples a process's and its children's summed resident sets (``/proc/PID/statm``;
    the children from ``/proc/PID/task/PID/children``), keeping the highest, until stopped.
    (Not their Pss: reading ``smaps_rollup`` walks every page table of a 4 GB process,
    ten times a second, and slowed a million profiles' start by a quarter.)"""

    EVERY = 0.1
    PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kib = 0
        self._stopped = threading.Event()
        self.start()

    def run(self) -> None:
        while not self._stopped.wait(self.EVERY):
            self.peak_kib = max(self.peak_kib, self._sample())

    def _sample(self) -> int:
        try:
            children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
        except OSError:
            return 0
        pages = 0
        for pid in (str(self.pid), *children):
            try:
                pages += int(Path(f"/proc/{pid}/statm").read_text().split()[1])
            except (OSError, IndexError, ValueError):  # ended between the two reads
                continue
        return pages * self.PAGE_KIB

    def stop(self) -> int:
        """The highest sum seen (one last sample taken now)."""
        if not self._stopped.is_set():
            self._stopped.set()
            self.join()
            self.peak_kib = max(self.peak_kib, self._sample())
        return self.peak_kib


def profilemock(
    *args: str,
    log: Path | None = None,
    env: dict[str, str] | None = None,
    quiet: bool | None = None,
) -> Server:
    """``profilemock serve`` on a free port with these extra arguments: ``--quiet`` unless
    ``log`` names a file for its request log (stderr) or ``quiet`` is False (the log then
    goes to /dev/null: a stream that is not a file, as a terminal or a pipe); ``env``
    added to the environment."""
    flags = ("--quiet",) if (log is None if quiet is None else quiet) else ()
    # A benchmark of a start never finds a snapshot left by an earlier one, unless it asks.
    cache = () if "--snapshots" in args or "--no-snapshots" in args else ("--no-snapshots",)
    # Bytecode written and read, as an installed package has it (an environment that turns
    # it off would have every start compile the package again).
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return Server(
        [sys.executable, "-m", "profilemock", "serve", *flags, *cache, "--port", "0", *args],
        log=log,
        env={**environ, **(env or {})},
    )
