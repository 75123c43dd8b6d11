"""Words in messages: counts (``1 user``, ``100,000 users``), the closest of names (and the
``; did you mean …?`` that suggests it), values as JSON writes them (``null``, ``true``,
never Python's ``None``, ``True``)."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from typing import Any


def counted(n: int, noun: str, plural: str = "") -> str:
    """``n`` and ``noun``, plural unless ``n`` is 1: ``1 space``, ``100,000 users``
    (``plural``: a noun's that is not ``noun`` + s, ``2 entries``)."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def closest(value: str, names: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The one of ``names`` a mistyped ``value`` most likely meant, or None."""
    close = difflib.get_close_matches(value, list(names), n=1, cutoff=cutoff)
    return close[0] if close else None


def did_you_mean(value: str, names: Iterable[str], *, any_case: bool = False) -> str:
    """``; did you mean `traits`?`` naming the one of ``names`` a mistyped ``value`` most
    likely meant, or "" when none is close: the end of a message refusing ``value``.
    ``any_case``: a name mistaken in case too (``LG8283283`` for ``lg8283283``)."""
    if any_case:
        folded = {name.lower(): name for name in names}
        close = closest(value.lower(), folded)
        return f"; did you mean `{folded[close]}`?" if close else ""
    close = closest(value, names)
    return f"; did you mean `{close}`?" if close else ""


def few(items: Iterable[str], separator: str = ", ", shown: int = 6) -> str:
    """``items`` joined, the first ``shown`` of them only when there are more: ``a, b, …
    (200 in all)`` (a list of every space of a big data set made a message one long line)."""
    listed = list(items)
    if len(listed) <= shown:
        return separator.join(listed)
    return separator.join(listed[:shown]) + f"{separator}… ({len(listed):,} in all)"


def not_one_of(name: str, value: object, allowed: Iterable[str]) -> str:
    """Why ``value`` is no ``name``: ``no route is called `trait`; routes are …; did you
    mean `traits`?`` — the allowed names listed, the closest suggested."""
    names = list(allowed)
    called = (
        f"no {name} is called {named(str(value))}" if str(value) else f"no {name} has an empty name"
    )
    return f"{called}; {name}s are {', '.join(names)}{did_you_mean(str(value), names)}"


def show(value: Any) -> str:
    """A short JSON rendering of a value for messages: JSON's spellings (``null``,
    ``true``, ``"text"``), never Python's (``None``, ``True``, ``'text'``)."""
    text = json.dumps(value, default=str, ensure_ascii=False)
    if not text.isascii():
        # A lone surrogate: no UTF-8 line (a log, a terminal) takes it; escaped as JSON
        # writes it (`\ud800`), the rest as it is.
        text = text.encode("utf-8", "backslashreplace").decode()
    if len(text) <= 60:
        return text
    cut = text[:57]
    escape = cut.rfind("\\u", 52)  # not cut inside an escape it made (`\ud8...`)
    return (cut[:escape] if escape != -1 else cut) + "..."


def named(name: str, ticks: str = "`") -> str:
    """A name the user wrote (a key, a switch, a spec), for a message: in ``ticks``
    (```sp```), or as JSON writes it (``"sp\\n"``) when it holds a line break, another
    character that does not print, or a backtick — shown as it is, it broke the message
    across lines (``key `sp⏎` is not allowed here``) or hid what was wrong."""
    if name.isprintable() and "`" not in name:
        return f"{ticks}{name}{ticks}"
    return show(name)


_KINDS: tuple[tuple[type, str], ...] = (
    (dict, "an object"),
    (list, "a list"),
    (str, "a string"),
    (int, "an integer"),
    (float, "a number"),
)


def shown_kind(value: Any) -> str:
    """What a JSON value is, and the value: ``a string ("abc")``, ``a list ([1])``,
    ``null``, ``true``."""
    if value is None or isinstance(value, bool):
        return show(value)
    kind = next((name for cls, name in _KINDS if isinstance(value, cls)), "a value")
    return f"{kind} ({show(value)})"


def unreadable_body(exc: BaseException) -> str:
    """Why a request body cannot be read, told from the server library's error (a content
    coding that does not decode, a broken chunk): the last line of its message, which names
    the cause (aiohttp's first line is ``400, message:``). The admin API and the proxy both
    answer it."""
    lines = str(exc).strip().splitlines()
    why = f": {lines[-1].strip()}" if lines else ""
    return f"the request body cannot be read{why}"
