"""Start-up to the first 200 of two checkouts of profilemock, side by side.

    python bench/compare_startup.py BEFORE_DIR AFTER_DIR ROUNDS FIXTURE_FILE...

Each checkout's ``profilemock serve --quiet`` (its package put first on PYTHONPATH) loads
each generated fixture file (``profilemock generate`` output: space ``generated``, token
``generated-token``) until ``/traits`` of ``user-0000001`` answers; rounds interleaved.
Prints start-up, peak RSS and RSS once answering (medians, range), and the per-round ratio.
"""

from __future__ import annotations

import base64
import os
import statistics
import sys
import time
import urllib.request

from _servers import Server

AUTH = "Basic " + base64.b64encode(b"generated-token:").decode()
PROBE = "/v1/spaces/generated/collections/users/profiles/user_id:user-0000001/traits"


def main() -> None:
    trees = {"before": sys.argv[1], "after": sys.argv[2]}
    rounds, files = int(sys.argv[3]), sys.argv[4:]
    runs: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for _ in range(rounds):
        for path in files:
            for label, tree in trees.items():
                os.environ["PYTHONPATH"] = tree
                server = Server(
                    [sys.executable, "-m", "profilemock", "serve", "--quiet", "--port", "0",
                     "--fixtures", path]
                )  # fmt: skip
                request = urllib.request.Request(
                    server.url + PROBE, headers={"Authorization": AUTH}
                )
                with urllib.request.urlopen(request, timeout=1800) as response:
                    assert response.status == 200
                took = time.perf_counter() - server.started
                runs.setdefault((path, label), []).append(
                    (took, server.peak_rss_mb(), server.rss_mb())
                )
                server.stop()
                print(f"{path} {label}: {took:.2f} s", file=sys.stderr, flush=True)
    for (path, label), measured in runs.items():
        times = [m[0] for m in measured]
        print(
            f"| {os.path.basename(path)}, {label} | {statistics.median(times):.2f} s"
            f" ({min(times):.2f} to {max(times):.2f}), peak RSS"
            f" {statistics.median(m[1] for m in measured):.0f} MB, RSS then"
            f" {statistics.median(m[2] for m in measured):.0f} MB |"
        )
    for path in files:
        ratios = [
            b[0] / a[0] for b, a in zip(runs[(path, "before")], runs[(path, "after")], strict=True)
        ]
        print(
            f"| {os.path.basename(path)}, before / after | {statistics.median(ratios):.2f}x"
            f" ({min(ratios):.2f} to {max(ratios):.2f}) |"
        )


if __name__ == "__main__":
    main()
