"""How long ``profilemock generate`` takes, how big its files are, how much memory it uses.

    .venv/bin/python bench/bench_generate.py [--users 10000 100000] [--rounds 3]

Each size is generated as YAML and as JSON by the CLI in a child process (wall time, CPU
time and peak RSS of that process), rounds interleaved; medians. ``--no-snapshots`` (the
file alone) and as users run it: the file, then its check for the snapshot its first
``serve`` starts from (into a fresh directory each time). The peer, in the same
run: PyYAML's C emitter (``yaml.dump`` with ``CSafeDumper``, what ``generate`` used before
it streamed) writing the same data held in memory, for the smallest size.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from profilemock.fixtures.generator import Plan, dump_yaml, generate, write

CLI = [sys.executable, "-m", "profilemock", "generate"]


def child(args: list[str]) -> tuple[float, float, float]:
    """(wall s, CPU s, peak RSS MB) of one CLI run."""
    started = time.perf_counter()
    process = subprocess.Popen([*CLI, *args], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"generate {' '.join(args)} failed: {status}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="profilemock-generate-"))
    results: dict[tuple[int, str, str], list[tuple[float, float, float]]] = {}
    sizes: dict[tuple[int, str], int] = {}
    modes = {"file only": ["--no-snapshots"], "file and check": []}
    for n in range(args.rounds):
        for users in args.users:
            for kind in ("yaml", "json"):
                for mode, flags in modes.items():
                    path = work / f"{users}.{kind}"
                    snapshots = work / f"snapshots-{n}-{users}-{kind}"
                    results.setdefault((users, kind, mode), []).append(
                        child(
                            [
                                *("--users", str(users), "--seed", "1", "-o", str(path)),
                                *("--snapshots", str(snapshots), *flags),
                            ]
                        )
                    )
                    sizes[(users, kind)] = path.stat().st_size
                    path.unlink()
                    shutil.rmtree(snapshots, ignore_errors=True)
    print("| users | format | file | written | wall | CPU | peak RSS |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for (users, kind, mode), runs in results.items():
        wall, cpu, rss = (statistics.median(r[i] for r in runs) for i in range(3))
        print(
            f"| {users:,} | {kind} | {sizes[(users, kind)] / 1e6:.0f} MB | {mode} | {wall:.1f} s"
            f" | {cpu:.1f} s | {rss:.0f} MB |"
        )
    smallest = min(args.users)
    streamed, emitter = [], []
    for _ in range(args.rounds):
        started = time.process_time()
        write(Plan(smallest, seed=1), io.StringIO(), "yaml")
        streamed.append(time.process_time() - started)
        started = time.process_time()
        dump_yaml(generate(smallest, seed=1))
        emitter.append(time.process_time() - started)
    ours, theirs = statistics.median(streamed), statistics.median(emitter)
    print(
        f"\n{smallest:,} users as YAML, CPU: streamed {ours:.1f} s; drawn into memory and"
        f" dumped by PyYAML's C emitter {theirs:.1f} s ({theirs / ours:.1f}x)"
    )


if __name__ == "__main__":
    main()
