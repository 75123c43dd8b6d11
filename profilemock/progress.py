"""Progress of a long job on stderr: a bar redrawn in place on a terminal, else (when asked)
one line a second, so a log shows the job is alive without filling up."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

BAR_WIDTH = 30


class ProgressBar:
    """``progress.update(done)`` as a job goes; ``progress.finish()`` once it ends;
    ``progress.say(line)`` prints a line above the bar (``record``'s line per profile)."""

    def __init__(
        self,
        stream: TextIO,
        total: int,
        what: str,
        *,
        lines: bool = False,
        clock: Callable[[], float] = time.monotonic,
        show: Callable[[int], str] = "{:,}".format,
        suffix: Callable[[], str] = str,
        terminal: bool | None = None,
    ) -> None:
        """``what`` names the job (``loading users``); ``lines``: off a terminal, print a
        line a second (else print nothing there); ``suffix()`` follows the count
        (`` profiles, 12 requests``); ``terminal``: whether ``stream`` is one (None: ask it;
        False: never a bar)."""
        self.stream = stream
        self.total = total
        self.what = what
        self.tty = _is_terminal(stream) if terminal is None else terminal
        self.enabled = self.tty or lines
        self.clock = clock
        self.show = show
        self.suffix = suffix
        self.done = 0
        self.started = clock()
        self.shown_any = False
        self._shown = self.started
        self._drawn = False

    def update(self, done: int, total: int | None = None) -> None:
        self.done = done
        if total is not None:
            self.total = total
        if not self.enabled:
            return
        now = self.clock()
        if now - self._shown < (0.1 if self.tty else 1.0):
            return
        self._shown = now
        self.shown_any = True
        self._show(done, now)

    def say(self, line: str) -> None:
        """Print ``line`` (on a terminal above the bar, drawn again under it), whether or
        not progress is shown."""
        if self.tty and self._drawn:
            self.stream.write(f"\r\x1b[K{line}\n")
            self._show(self.done, self.clock())
        else:
            self.stream.write(f"{line}\n")
        self.stream.flush()

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
                f"\r{self.what} [{bar}] {self.show(done)}/{self.show(self.total)}"
                f"{self.suffix()} ({share:.0%}, {elapsed:.0f} s)\x1b[K"
            )
            self._drawn = True
        else:
            self.stream.write(
                f"{self.what}: {self.show(done)} of {self.show(self.total)}{self.suffix()}"
                f" ({elapsed:.0f} s)\n"
            )
        self.stream.flush()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def megabytes(count: int) -> str:
    return f"{count / 1e6:,.1f} MB"


class Steps:
    """Progress of a job in named steps (``steps(step, done, total)``), each shown with
    its own ``ProgressBar``: the loader's ``progress`` callback."""

    def __init__(
        self,
        stream: TextIO,
        labels: dict[str, tuple[str, Callable[[int], str]]],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.labels = labels
        self.clock = clock
        self.started = clock()
        self.current: ProgressBar | None = None
        self.step = ""
        self.shown_any = False

    def __call__(self, step: str, done: int, total: int) -> None:
        if step != self.step or self.current is None:
            self.finish()
            what, show = self.labels.get(step, (step, "{:,}".format))
            self.step = step
            self.current = ProgressBar(
                self.stream, total, what, lines=True, clock=self.clock, show=show
            )
            # The first line comes a second after the job started, not after this step.
            self.current.started = self.current._shown = self.started
        self.current.update(done, total)
        self.shown_any = self.shown_any or self.current.shown_any

    def finish(self) -> None:
        if self.current is not None:
            self.current.finish()
