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

``--failing``: each round first saves the small file with a mistake (a user's
``created_at`` no timestamp), which the reload refuses (the previous data still served),
then saves it mended (with the round's trait change); both reloads are measured: what a
developer's half-typed save costs the server, and the save that mends it.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _servers import profilemock

LINE = re.compile(r"^(?:reloaded .*? in (\d+\.\d+) s|reload of .*? failed)", re.M)
"""A reload's log line: the seconds a reload that loaded reports (a failed one reports none)."""
MISTAKE = ('created_at: "-', 'created_at: "about a week ago, ')
"""What ``--failing`` breaks in the small file: a timestamp nothing reads."""


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
    reports (NaN if it failed), and how many there are now."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        found = list(LINE.finditer(log.read_text(errors="replace")))
        if len(found) > seen:
            match = found[seen]
            reported = float(match.group(1)) if match.group(1) else float("nan")
            return match.group(0), reported, seen + 1
        time.sleep(0.02)  # polling a log file for the server's line, not a test waiting
    raise SystemExit(f"no reload line within {timeout} s: see {log}")


Row = tuple[float, float, float, float]
"""Seconds reported, seconds from the save to the line, peak RSS MB, RSS MB after."""


def measured(
    server: Any, log: Path, seen: int, path: Path, text: str, fails: bool
) -> tuple[Row, int]:
    """Save ``text`` to ``path`` and measure the reload it causes, which must fail if
    ``fails`` and load if not."""
    reset = reset_peak(server.process.pid)
    started = time.perf_counter()
    save(path, text)
    line, reported, seen = reload_line(log, seen)
    waited = time.perf_counter() - started
    if line.startswith("reload of") != fails:
        raise SystemExit(f"expected the reload to {'fail' if fails else 'load'}: {line}")
    peak = server.peak_rss_mb() if reset else float("nan")
    return (reported, waited, peak, server.rss_mb()), seen


def summary(name: str, rows: list[Row]) -> None:
    median = [statistics.median(r[i] for r in rows) for i in range(4)]
    reported = "" if median[0] != median[0] else f"{median[0]:.2f} s reported, "
    print(
        f"{name}, median of {len(rows)}: {reported}{median[1]:.2f} s"
        f" save->line, peak {median[2]:.0f} MB, RSS after {median[3]:.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=50)
    parser.add_argument("--events", default="0-3", help="events a user (generate's MIN-MAX)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--failing", action="store_true", help="a failing save before each")
    parser.add_argument("--work", type=Path, default=Path("/tmp/profilemock-bench-reload"))
    args = parser.parse_args()
    folder = args.work / f"set-{args.users}-{args.small}-{args.events}"
    folder.mkdir(parents=True, exist_ok=True)
    big, small = folder / "big.yaml", folder / "small.yaml"
    generate(big, args.users, "generated", args.events, 1)
    generate(small, args.small, "small", "0-3", 2)
    original = small.read_text()
    assert "plan: " in original
    assert MISTAKE[0] in original
    large, little = big.stat().st_size / 1e6, small.stat().st_size / 1e3
    print(f"{large:.0f} MB ({args.users:,} users) + {little:.0f} kB ({args.small} users)")
    log = args.work / "serve.log"
    server = profilemock("--watch", "--fixtures", str(folder), log=log)
    rows: list[tuple[bool, Row]] = []
    """Each reload in turn: whether it failed, and its measures."""
    seen = 0
    try:
        print(f"started: RSS {server.rss_mb():.0f} MB")
        print("round  save     reported s  save->line s  peak RSS MB  RSS after MB")
        for n in range(args.rounds):
            mended = original.replace("plan: ", f"plan: r{n}-", 1)
            saves = [(mended.replace(*MISTAKE, 1), True)] if args.failing else []
            for text, fails in [*saves, (mended, False)]:
                row, seen = measured(server, log, seen, small, text, fails)
                rows.append((fails, row))
                what = "failing" if fails else "loading"
                print(
                    f"{n + 1:5}  {what}  {row[0]:10.2f}  {row[1]:12.2f}  {row[2]:11.0f}"
                    f"  {row[3]:12.0f}"
                )
    finally:
        server.stop()
        save(small, original)
    (first_failed, first), rest = rows[0], rows[1:]
    print(
        f"first reload (every file read{', failing' if first_failed else ''}):"
        f" {first[1]:.2f} s save->line, peak {first[2]:.0f} MB"
    )
    for fails, name in ((True, "later failing saves"), (False, "later loading reloads")):
        later = [row for failed, row in rest if failed == fails]
        if later:
            summary(name, later)
    if rest:
        waited = statistics.median(row[1] for _, row in rest)
        print(f"first / later, save->line: {first[1] / waited:.1f}x")


if __name__ == "__main__":
    main()
