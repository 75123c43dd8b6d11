"""A ``serve --watch`` reload when one small file of a large set is edited.

    .venv/bin/python bench/bench_reload.py [--users 100000] [--small 50] [--events 0-3]
        [--rounds 5] [--work DIR]

Two files from ``profilemock generate``, written once into ``--work`` and kept there: a
large one (``--users`` users, space ``generated``) and a small one (``--small`` users,
space ``small``). ``profilemock serve --watch --no-snapshots`` serves their directory (a
child process); each round saves the small file with one trait changed (a new file
renamed over it, as editors save), and waits for the reload's log line. Per round: the
seconds the line reports, the time from the save to the line, and the server's peak RSS
during the reload (VmHWM, reset before each save through ``/proc/PID/clear_refs``) and its
RSS after.

The first reload reads every file: a reload keeps each file as it read it, by its content,
and reads again only those whose content changed since (``loader.Reads``); before that, every
reload was the first. So the first round against the median of the others is the
comparison, within one run; the same script run against an older checkout
(``PYTHONPATH=that/checkout``) shows every round as the first.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _servers import profilemock

LINE = re.compile(r"^(reloaded|reload of) .*? in (\d+\.\d+) s", re.M)
FAILED = re.compile(r"^reload of .* failed", re.M)


def generate(path: Path, users: int, space: str, events: str, seed: int) -> None:
    if path.exists():
        return
    subprocess.run(
        [
            *(sys.executable, "-m", "profilemock", "generate", "--no-snapshots"),
            *("--users", str(users), "--events-per-user", events, "--seed", str(seed)),
            *("--space-id", space, "--token", f"{space}-token", "-o", str(path)),
        ],
        check=True,
    )


def save(path: Path, text: str) -> None:
    """Saved as an editor saves: a new file renamed over the old one."""
    temporary = path.with_name(f".{path.name}.swp")
    temporary.write_text(text)
    temporary.replace(path)


def reset_peak(pid: int) -> bool:
    """Reset the process's VmHWM to its RSS now (Linux 4.0+); False where it cannot be."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def reload_line(log: Path, seen: int, timeout: float = 600) -> tuple[str, float, int]:
    """The next reload line of the log after the ``seen`` ones: its text, the seconds it
    reports, and how many there are now."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        found = LINE.findall(log.read_text(errors="replace"))
        if len(found) > seen:
            text = log.read_text(errors="replace")
            match = list(LINE.finditer(text))[seen]
            return match.group(0), float(match.group(2)), seen + 1
        time.sleep(0.02)  # polling a log file for the server's line, not a test waiting
    raise SystemExit(f"no reload line within {timeout} s: see {log}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=50)
    parser.add_argument("--events", default="0-3", help="events a user (generate's MIN-MAX)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--work", type=Path, default=Path("/tmp/profilemock-bench-reload"))
    args = parser.parse_args()
    folder = args.work / f"set-{args.users}-{args.small}-{args.events}"
    folder.mkdir(parents=True, exist_ok=True)
    big, small = folder / "big.yaml", folder / "small.yaml"
    generate(big, args.users, "generated", args.events, 1)
    generate(small, args.small, "small", "0-3", 2)
    original = small.read_text()
    assert "plan: " in original
    large, little = big.stat().st_size / 1e6, small.stat().st_size / 1e3
    print(f"{large:.0f} MB ({args.users:,} users) + {little:.0f} kB ({args.small} users)")
    log = args.work / "serve.log"
    server = profilemock("--watch", "--fixtures", str(folder), log=log)
    rows: list[tuple[float, float, float, float]] = []
    seen = 0
    try:
        print(f"started: RSS {server.rss_mb():.0f} MB")
        print("round  reported s  save->line s  peak RSS MB  RSS after MB")
        for n in range(args.rounds):
            reset = reset_peak(server.process.pid)
            started = time.perf_counter()
            save(small, original.replace("plan: ", f"plan: r{n}-", 1))
            line, reported, seen = reload_line(log, seen)
            waited = time.perf_counter() - started
            if FAILED.search(line):
                raise SystemExit(line)
            peak = server.peak_rss_mb() if reset else float("nan")
            rows.append((reported, waited, peak, server.rss_mb()))
            print(f"{n + 1:5}  {reported:10.2f}  {waited:12.2f}  {peak:11.0f}  {rows[-1][3]:12.0f}")
    finally:
        server.stop()
        save(small, original)
    if len(rows) > 1:
        first, rest = rows[0], rows[1:]
        median = [statistics.median(r[i] for r in rest) for i in range(4)]
        print(
            f"first reload (every file read): {first[0]:.2f} s reported, {first[1]:.2f} s"
            f" save->line, peak {first[2]:.0f} MB"
        )
        print(
            f"later reloads, median of {len(rest)}: {median[0]:.2f} s reported, {median[1]:.2f} s"
            f" save->line, peak {median[2]:.0f} MB ({first[1] / median[1]:.1f}x faster)"
        )


if __name__ == "__main__":
    main()
