"""JSON text from outside — a request body, an upstream's answer, a file — read under the
limits every JSON input of the package keeps, each problem with its line and column.

The limits: nesting at most ``MAX_DEPTH`` levels (deeper, the C scanner runs out of stack
and raises ``RecursionError``), numbers finite (``NaN``, ``Infinity`` and ``1e400`` are
not JSON numbers), integers no longer than Python reads, and no lone surrogate escape
(``"\\ud800"`` parses, but no UTF-8 text can carry it: an answer quoting it could not be
sent). The fixture reader (``fixtures/source``) keeps the same limits with the same
helpers.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

MAX_DEPTH = 100
"""Deepest nesting of objects and arrays (of mappings and sequences, in a fixture)."""


def line_column(text: bytes | str, offset: int) -> tuple[int, int]:
    """1-based line and column of ``offset`` in ``text``."""
    newline = b"\n" if isinstance(text, bytes) else "\n"
    line_start = text.rfind(newline, 0, offset) + 1  # type: ignore[arg-type]
    return text.count(newline, 0, offset) + 1, offset - line_start + 1  # type: ignore[arg-type]


_QUOTES_AND_BRACKETS = (
    bytes.maketrans(b"[]{}", b"()()"),
    bytes(byte for byte in range(256) if byte not in b'"[]{}'),
)
_QUOTES_AND_COLONS = (None, bytes(byte for byte in range(256) if byte not in b'":'))
_STRINGS = re.compile(rb'"[^"]*"')


def _outside_strings(text: str, table: tuple[bytes | None, bytes]) -> bytes:
    r"""The bytes of valid JSON ``text`` that ``table`` (``bytes.translate``'s arguments:
    a mapping, the bytes to drop) keeps, quotes aside, outside its strings: the one
    technique of ``json_nests_too_deep`` (brackets) and ``_members_written`` (colons).

    Escapes go first (``\\`` then ``\"``: valid JSON has backslashes only in strings),
    then every byte but quotes and those kept; adjacent quotes (an empty string, or the end
    of one and the start of the next) hold nothing kept, so usually every quote goes too
    (else the strings that hold something kept go)."""
    if "\\" in text:
        text = text.replace("\\\\", "").replace('\\"', "")
    marks = text.encode().translate(*table).replace(b'""', b"")
    if b'"' in marks:
        marks = _STRINGS.sub(b"", marks)
    return marks


def json_nests_too_deep(text: str) -> bool:
    """Whether valid JSON ``text`` nests deeper than ``MAX_DEPTH``, read from the text
    (a walk over the parsed data costs as much as the parse; this, about a tenth of it):
    its brackets outside strings (``_outside_strings``), which lose their innermost level
    with each pass."""
    marks = _outside_strings(text, _QUOTES_AND_BRACKETS)
    for _ in range(MAX_DEPTH):
        if not marks:
            return False
        marks = marks.replace(b"()", b"")
    return bool(marks)


JSON_TOKENS = re.compile(
    r'"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)|([\[{])|([\]}])|(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)'
)
"""A string, a non-finite constant (group 1), an opening (2) or closing (3) bracket, a
number (4): JSON text read token by token, strings skipped whole."""


def too_deep_at(text: str) -> tuple[int, int]:
    """Where JSON text first nests deeper than ``MAX_DEPTH`` (only asked when it does)."""
    depth = 0
    for match in JSON_TOKENS.finditer(text):
        if match.group(2):
            depth += 1
            if depth > MAX_DEPTH:
                return line_column(text, match.start())
        elif match.group(3):
            depth -= 1
    return 1, 1


def too_long(digits: int) -> str:
    """What is wrong with an integer of ``digits`` digits, more than Python reads."""
    return (
        f"an integer of {digits} digits is longer than the {sys.get_int_max_str_digits()}"
        " digits a number may have; write it as a string"
    )


_SURROGATE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def lone_surrogates(text: str) -> list[tuple[int, str]]:
    """Where JSON text escapes half a UTF-16 pair with no other half (``json.loads``
    takes them; no UTF-8 text can carry them), and the escape: (offset, ``\\ud800``).

    A match is an escape when an even number of backslashes comes before it (valid JSON
    has backslashes only inside strings)."""

    def escape(at: int) -> bool:
        run = at
        while run and text[run - 1] == "\\":
            run -= 1
        return (at - run) % 2 == 0

    found = []
    paired = -1  # where the low half of the last pair starts
    for match in _SURROGATE.finditer(text):
        at = match.start()
        if at == paired or not escape(at):
            continue
        high = match.group()[3] in "89abAB"
        after = _SURROGATE.match(text, match.end())
        if high and after is not None and after.group()[3] in "cdefCDEF":
            paired = match.end()
            continue
        found.append((at, match.group()))
    return found


def lone_surrogate_message(escape: str) -> str:
    """Why a string holding ``escape``, half of a UTF-16 pair, cannot be sent: the one
    wording, of JSON text (a body, a fixture file) and of Python data (``jsonbytes``)."""
    return f"`{escape}` is a lone surrogate (half of a UTF-16 pair), which no UTF-8 body can carry"


class JsonInputError(ValueError):
    """JSON text that cannot be used: why, and where (1-based line and column)."""

    def __init__(self, reason: str, line: int, column: int, *, syntax: bool = False) -> None:
        super().__init__(f"{reason} at line {line} column {column}")
        self.reason = reason
        self.line = line
        self.column = column
        self.syntax = syntax
        """Whether the text is not JSON at all (``reason`` then starts ``not JSON: ``), as
        against JSON beyond a limit."""

    @property
    def where(self) -> str:
        """What is wrong and where, without ``not JSON: ``: ``Expecting value at line 1
        column 1``."""
        reason = self.reason.removeprefix("not JSON: ")
        return f"{reason} at line {self.line} column {self.column}"

    def about(self, subject: str) -> str:
        """The problem told of ``subject``: ``the request body is not JSON: Expecting value
        at line 1 column 1``, ``the request body cannot be used: nested deeper than 100
        levels at line 1 column 101``."""
        problem = "is not JSON" if self.syntax else "cannot be used"
        return f"{subject} {problem}: {self.where}"


class _NotFinite(Exception):
    def __init__(self, literal: str) -> None:
        self.literal = literal


def _constant(name: str) -> Any:
    raise _NotFinite(name)


def _finite(literal: str) -> float:
    number = float(literal)
    if not math.isfinite(number):
        raise _NotFinite(literal)
    return number


def _number(text: str, wanted: Callable[[str], bool]) -> tuple[str, tuple[int, int]]:
    """The first number of ``text`` (a constant such as ``NaN`` too) that ``wanted``
    picks, and where it is."""
    for match in JSON_TOKENS.finditer(text):
        literal = match.group(1) or match.group(4)
        if literal and wanted(literal):
            return literal, line_column(text, match.start())
    return "", (1, 1)


def _too_long_literal(literal: str) -> bool:
    digits = literal.lstrip("-")
    return digits.isdigit() and len(digits) > sys.get_int_max_str_digits()


_CLOSED_BY = {"Expecting value": "]", "Expecting property name enclosed in double quotes": "}"}
"""What json expects after a comma in a list and in an object, and the bracket that
closes each: a comma before that bracket is a trailing one; before the other, the list
or object was closed with the wrong bracket."""

_TRAILING_COMMA = {
    "Illegal trailing comma before end of array": "]",
    "Illegal trailing comma before end of object": "}",
}
"""Python 3.13's own words for a trailing comma, which it places at the comma (older
Pythons say what ``_CLOSED_BY`` reads, at the bracket)."""


def syntax_problem(error: json.JSONDecodeError) -> tuple[str, int, int]:
    """What is wrong with text that is not JSON, and where (1-based line and column):
    json's reason and place, or for what it words as a puzzle ("Expecting value" of an
    empty file, "Expecting property name enclosed in double quotes" of a comma before
    ``}``, "Extra data", "Unexpected UTF-8 BOM (decode using utf-8-sig)") the plain cause.
    The same on every Python: a trailing comma is told at the bracket after it."""
    if not error.doc.strip():
        empty = "the text is empty" if not error.doc else "the text is only white space"
        return f"nothing to read: {empty}", error.lineno, error.colno
    closing = _TRAILING_COMMA.get(error.msg)
    if closing is not None:
        bracket = skip_space(error.doc, error.pos + 1)
        return _trailing_comma(closing), *line_column(error.doc, bracket)
    return _reason(error), error.lineno, error.colno


def _trailing_comma(closing: str) -> str:
    return f"a comma before `{closing}`: JSON allows none after the last item"


def _reason(error: json.JSONDecodeError) -> str:
    before = error.doc[: error.pos].rstrip()
    closing = _CLOSED_BY.get(error.msg)
    if before.endswith(",") and closing and error.doc[error.pos : error.pos + 1] == closing:
        return _trailing_comma(closing)
    if error.msg.startswith("Unexpected UTF-8 BOM"):  # "(decode using utf-8-sig)"
        return "the text starts with a byte order mark (U+FEFF); save it as UTF-8 without one"
    if error.msg == "Extra data":
        return "more after the end of the JSON value (the text holds one value)"
    # Without the dangling "at" some of json's messages end in (``Invalid control
    # character at``): the place is told after it, or beside it.
    return error.msg.removesuffix(" at")


def read_json(text: str) -> Any:
    """``text`` as data, or a ``JsonInputError`` saying what is wrong and where: not JSON,
    nested deeper than ``MAX_DEPTH``, a number that is not finite or too long, a lone
    surrogate escape. Of a key an object gives twice the last value counts, as most JSON
    readers take it (``read_json_repeats`` tells them)."""
    return _read(text, None)


class RepeatedKey(NamedTuple):
    """A key an object gives more than once: the path to the object, the key, how often."""

    path: tuple[str | int, ...]
    key: str
    times: int


def read_json_repeats(text: str) -> tuple[Any, list[RepeatedKey]]:
    """``read_json`` of ``text``, and each key an object of it gives more than once, in the
    order of the text (readers disagree on which value counts: most keep the last, as the
    data here does, some the first). The members read are counted as the text is read,
    and those written counted in the text (``_members_written``): fewer read, a key was
    given twice, and only then is the text read again to tell which and where (a 1 MB
    object costs ~2 ms more; a pairs hook on every object, 8)."""
    read = 0

    def counted(found: dict[str, Any]) -> dict[str, Any]:
        nonlocal read
        read += len(found)
        return found

    data = _read(text, counted)
    return data, [] if read == _members_written(text) else _repeated_keys(text)


def _members_written(text: str) -> int:
    """How many members the objects of valid JSON ``text`` hold, repeated keys counted: its
    colons outside strings (``_outside_strings``; about a fifth of the time reading the
    text takes)."""
    return len(_outside_strings(text, _QUOTES_AND_COLONS))


class _Repeated(dict[str, Any]):
    """An object that holds a key more than once: each such key and how often, and its
    members as written (a value the last one overwrites may hold repeated keys too)."""

    counts: dict[str, int]
    written: list[tuple[str, Any]]


def _marked(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) == len(pairs):
        return found
    marked = _Repeated(found)
    marked.counts = {}
    marked.written = pairs
    for key, _ in pairs:
        marked.counts[key] = marked.counts.get(key, 0) + 1
    return marked


def _repeated_keys(text: str) -> list[RepeatedKey]:
    """The keys an object of valid JSON ``text`` holds more than once, in its order, those
    inside a value a repeated key overwrote too (its path is the text's, where the data
    holds the last value). Only
    objects and lists are gone into, each as it comes (a stack of their members yet to
    see): a 16 MB list of numbers with one key given twice took 38 s and 2 GB, a path made
    and kept for every number."""
    found: list[RepeatedKey] = []
    stack: list[tuple[tuple[str | int, ...], Iterator[tuple[Any, Any]]]] = []

    def enter(value: Any, path: tuple[str | int, ...]) -> None:
        if isinstance(value, _Repeated):
            found.extend(
                RepeatedKey(path, key, count) for key, count in value.counts.items() if count > 1
            )
            stack.append((path, iter(value.written)))  # `{"a": {"b": 1, "b": 2}, "a": 3}`
        elif isinstance(value, dict):
            stack.append((path, iter(value.items())))
        elif isinstance(value, list):
            stack.append((path, enumerate(value)))

    enter(json.loads(text, object_pairs_hook=_marked), ())
    while stack:
        path, members = stack[-1]
        for key, value in members:
            if isinstance(value, (dict, list)):
                enter(value, (*path, key))
                break
        else:
            stack.pop()
    return found


def _read(text: str, object_hook: Callable[[dict[str, Any]], Any] | None) -> Any:
    try:
        data = json.loads(
            text, parse_constant=_constant, parse_float=_finite, object_hook=object_hook
        )
    except json.JSONDecodeError as exc:
        reason, line, column = syntax_problem(exc)
        raise JsonInputError(f"not JSON: {reason}", line, column, syntax=True) from None
    except RecursionError:
        raise JsonInputError(f"nested deeper than {MAX_DEPTH} levels", *too_deep_at(text)) from None
    except _NotFinite as exc:
        _, at = _number(text, exc.literal.__eq__)
        raise JsonInputError(f"`{exc.literal}` is not a finite number", *at) from None
    except ValueError:  # an integer of more digits than int() reads
        literal, at = _number(text, _too_long_literal)
        raise JsonInputError(too_long(len(literal.lstrip("-"))), *at) from None
    if json_nests_too_deep(text):
        raise JsonInputError(f"nested deeper than {MAX_DEPTH} levels", *too_deep_at(text))
    if "\\u" in text:
        found = lone_surrogates(text)
        if found:
            offset, escape = found[0]
            raise JsonInputError(lone_surrogate_message(escape), *line_column(text, offset))
    return data


_SPACE = re.compile(r"[ \t\n\r]*")
_VALUE = json.JSONDecoder()


def skip_space(text: str, at: int) -> int:
    """Where the next JSON token after ``at`` starts (past any JSON whitespace)."""
    return _SPACE.match(text, at).end()  # type: ignore[union-attr]  # `*` always matches


def member_span(text: str, *keys: str) -> tuple[int, int] | None:
    """Where, in valid JSON ``text`` (read by ``read_json`` first), the value at ``keys``
    is: ``member_span(text, "cursor", "url")`` is the span of the ``"…"`` of
    ``data["cursor"]["url"]``, so that one value can be replaced and every other byte kept.
    None when an object on the way is missing or not an object. Of repeated keys the last
    counts, as it does for ``json.loads``."""
    start = skip_space(text, 0)
    span = None
    for key in keys:
        if text[start : start + 1] != "{":
            return None
        span = None
        at = skip_space(text, start + 1)
        while text[at] != "}":
            name, at = json.decoder.scanstring(text, at + 1)  # type: ignore[attr-defined]
            at = skip_space(text, skip_space(text, at) + 1)  # past the colon
            _, end = _VALUE.raw_decode(text, at)
            if name == key:
                span = (at, end)
            at = skip_space(text, end)
            if text[at] == ",":
                at = skip_space(text, at + 1)
        if span is None:
            return None
        start = span[0]
    return span


_LOW_SURROGATE = re.compile(r"\\u[dD][c-fC-F][0-9a-fA-F]{2}")


def string_prefix_end(token: str, length: int) -> int:
    """The offset in a JSON string ``token`` (quotes included) just past the first
    ``length`` characters it stands for, escapes counted as the one character each is."""
    at = 1
    for _ in range(length):
        if token[at] != "\\":
            at += 1
        elif token[at + 1] != "u":
            at += 2
        elif 0xD800 <= int(token[at + 2 : at + 6], 16) <= 0xDBFF and _LOW_SURROGATE.match(
            token, at + 6
        ):
            at += 12  # a surrogate pair: one character, as json.loads reads it
        else:
            at += 6
    return at
