"""Memory of a first start, with any process it forks: what the machine gives the load.

    .venv/bin/python bench/load_memory.py FIXTURE_FILE... [--rounds 1]

``profilemock serve --no-snapshots`` on each file (a child, started in a temporary
directory), polled every 0.1 s until it prints its banner: the largest sum of the PSS of
the server and its children (``/proc/PID/smaps_rollup``: a page shared by several
processes counts a share in each, so the sum is what they take together), beside the
server's own peak RSS (VmHWM, what ``bench_scale.py`` and ``compare_startup.py`` report)
and how many children were seen (a load that checked in forked processes had them; see
bench/README.md, fifth session). Linux only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(x) for x in task.read_text().split()]
        except OSError:
            continue
    return found


def _hwm_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def start(path: Path) -> tuple[float, float, float, int]:
    """(seconds to the banner, peak summed PSS MB, server VmHWM MB, children seen)."""
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "profilemock", "serve", "--no-snapshots", "--quiet"),
            *("--port", "0", "--fixtures", str(path.resolve())),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=tempfile.gettempdir(),
    )
    assert process.stdout is not None
    os.set_blocking(process.stdout.fileno(), False)
    started, peak, children, said = time.perf_counter(), 0, 0, b""
    try:
        while b"serving" not in said:
            if process.poll() is not None:
                raise SystemExit(f"serve {path} ended with {process.returncode}")
            kids = _children(process.pid)
            children = max(children, len(kids))
            peak = max(peak, _pss_kb(process.pid) + sum(_pss_kb(k) for k in kids))
            said += process.stdout.read() or b""
            time.sleep(0.1)  # a poll of a child's memory, not a test waiting for time
        return time.perf_counter() - started, peak / 1024, _hwm_mb(process.pid), children
    finally:
        process.terminate()
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    print("| file | start to banner | peak PSS, serve and children | serve's own peak RSS |")
    print("| --- | --- | --- | --- |")
    for path in args.files:
        runs = [start(path) for _ in range(args.rounds)]
        took, pss, hwm = (statistics.median(r[i] for r in runs) for i in range(3))
        print(
            f"| {path.name} | {took:.1f} s | {pss:,.0f} MB ({max(r[3] for r in runs)} children)"
            f" | {hwm:,.0f} MB |",
            flush=True,
        )


if __name__ == "__main__":
    main()
