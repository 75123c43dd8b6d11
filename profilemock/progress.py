"""Progress of a long job on stderr: a bar redrawn in place on a terminal, else (when asked)
one line a second, so a log shows the job is alive without filling up."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

BAR_WIDTH = 30


class ProgressBar:
    """``progress.update(done)`` as a job goes; ``progress.finish()`` once it ends."""

    def __init__(
        self,
        stream: TextIO,
        total: int,
        what: str,
        *,
        lines: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``what`` names the job (``loading users``); ``lines``: off a terminal, print a
        line a second (else print nothing there)."""
        self.stream = stream
        self.total = total
        self.what = what
        self.tty = _is_terminal(stream)
        self.enabled = self.tty or lines
        self.clock = clock
        self.started = clock()
        self._shown = self.started if not self.tty else 0.0
        self._drawn = False

    def update(self, done: int, total: int | None = None) -> None:
        if total is not None:
            self.total = total
        if not self.enabled:
            return
        now = self.clock()
        if now - self._shown < (0.1 if self.tty else 1.0):
            return
        self._shown = now
        self._show(done, now)

    def finish(self) -> None:
        """End the bar's line (a line-a-second log needs no end)."""
        if self.tty and self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False

    def _show(self, done: int, now: float) -> None:
        elapsed = now - self.started
        if self.tty:
            share = min(1.0, done / self.total) if self.total else 0.0
            filled = round(BAR_WIDTH * share)
            bar = "#" * filled + "-" * (BAR_WIDTH - filled)
            self.stream.write(
                f"\r{self.what} [{bar}] {done:,}/{self.total:,} ({share:.0%}, {elapsed:.0f} s)"
            )
            self._drawn = True
        else:
            self.stream.write(f"{self.what}: {done:,} of {self.total:,} ({elapsed:.0f} s)\n")
        self.stream.flush()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
