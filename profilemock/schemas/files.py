"""Check recorded responses: JSON body files and HAR archives from browsers or proxies."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from profilemock.jsontext import JsonInputError, line_column
from profilemock.schemas.validation import (
    BODIES,
    UnknownEndpoint,
    UnreadBody,
    Violation,
    check_body,
    checked_status,
    endpoint_for_url,
    media_type,
    nothing_to_check,
    read_body_json,
    schema_for,
    still_coded,
    validate,
)
from profilemock.words import counted, shown_kind


class UnusableInput(Exception):
    """A file that cannot be checked at all: unreadable, not JSON, endpoint unknown."""


class EndpointUnknown(UnusableInput):
    """A body file whose endpoint neither ``endpoint`` nor ``url`` (nor an error status)
    says. ``--endpoint`` is one for every file of a run, so ``profilemock validate`` says
    this once of all such files (``unknown_endpoint``), not once a file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(unknown_endpoint([str(path)]))


def unknown_endpoint(names: list[str], shown: str | None = None) -> str:
    """Why the body files ``names`` cannot be checked, and how to say their endpoint; the
    files named as ``shown`` when given (a long list cut short)."""
    how = f"give --endpoint ({', '.join(BODIES)}) or --url"
    if len(names) == 1:
        return f"{names[0]}: cannot tell which endpoint this body answered; {how}"
    return (
        f"{shown or ', '.join(names)}: cannot tell which endpoint these {len(names)} bodies"
        f" answered; {how} (either applies to every body file of the run)"
    )


@dataclass(frozen=True)
class Report:
    """The result of checking one body (a file, or one entry of a HAR)."""

    name: str
    endpoint: str
    status: int
    violations: list[Violation] = field(default_factory=list)
    skipped: str | None = None
    """Why a HAR entry was not checked (a CORS preflight, a request the browser blocked)."""

    @property
    def valid(self) -> bool:
        return not self.violations

    def as_dict(self) -> dict[str, Any]:
        result = {
            "name": self.name,
            "endpoint": self.endpoint,
            "status": self.status,
            "valid": self.valid,
            "violations": [v.as_dict() for v in self.violations],
        }
        if self.skipped is not None:
            result["skipped"] = self.skipped
        return result


PREFLIGHT = "CORS preflight"
BLOCKED = "status 0: blocked or cancelled by the browser, nothing was answered"


def is_har(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("log"), dict) and "entries" in data["log"]


def check_file(
    path: Path,
    *,
    endpoint: str | None = None,
    url: str | None = None,
    status: int = 200,
    verbose: bool = False,
    strict: bool = False,
    allow_empty: bool = False,
) -> list[Report]:
    """Reports for a JSON body file (endpoint from ``endpoint`` or ``url``; any 4xx or 5xx
    body is an error envelope, so ``status`` alone will do for those) or a HAR file.

    A HAR with no Profile API answer to check is unusable unless ``allow_empty``: a wrong
    export must not pass silently."""
    checked_status(status)
    try:
        if path.is_char_device() or path.is_block_device():  # /dev/zero: read for ever
            raise UnusableInput(f"{path}: is a device, not a file of a response body or HAR")
        raw = path.read_bytes()
    except IsADirectoryError:
        raise UnusableInput(
            f"{path}: is a directory; give the files in it (such as {path / '*.json'})"
        ) from None
    except OSError as exc:
        raise UnusableInput(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:  # as the fixtures tell it: it said "cannot read: 'utf-8'
        # codec can't decode byte 0xe9 in position 19", counting from 0
        coded = still_coded(raw)
        if coded is not None:  # a saved .json.gz, or `curl` without --compressed
            raise UnusableInput(f"{path}: the body is {coded}; decompress it first") from None
        line, column = line_column(raw, exc.start)
        raise UnusableInput(
            f"{path}:{line}:{column}: not UTF-8: byte 0x{raw[exc.start]:02x} cannot start or"
            " continue a character"
        ) from None
    try:
        # Keys held twice are a body's violation; a HAR's own (its entries' bodies are read
        # on their own) are none.
        data, repeated = read_body_json(text)
    except JsonInputError as exc:
        raise UnusableInput(f"{path}:{exc.line}:{exc.column}: {exc.reason}") from None
    if is_har(data):
        reports = check_har(data, str(path), strict=strict)
        if not allow_empty and all(r.skipped for r in reports):
            entries = len(data["log"].get("entries") or [])
            skipped = f", {len(reports)} skipped" if reports else ""
            raise UnusableInput(
                f"{path}: no Profile API answer to check among"
                f" {counted(entries, 'entry', 'entries')}{skipped};"
                " export the requests to /v1/spaces/… with their content, or pass"
                " --allow-empty if that is expected"
            )
        return reports
    if nothing_to_check("GET", status) is not None:  # 1xx, 204, 3xx
        raise UnusableInput(
            f"{path}: a {status} answer holds no body of the API to check; give --status"
            " the status this body came with"
        )
    if endpoint is None and url is None and status >= 400:
        endpoint = "error"
    if (
        endpoint is None
        and url is None
        and ((isinstance(data, dict) and "log" in data) or path.suffix.lower() == ".har")
    ):
        raise UnusableInput(f"{path}: {_not_har(data)}")
    if endpoint is None and url is None:
        raise EndpointUnknown(path)
    if url is not None:
        try:
            target = endpoint_for_url(url)
        except UnknownEndpoint as exc:
            raise UnusableInput(str(exc)) from None
        endpoint, verbose = target.endpoint, target.verbose or verbose
    assert endpoint is not None
    if endpoint not in BODIES:
        raise UnusableInput(f"unknown endpoint `{endpoint}`; endpoints are {', '.join(BODIES)}")
    schema = schema_for(endpoint, status)
    violations = repeated + validate(data, schema, verbose=verbose, strict=strict)
    return [Report(str(path), schema, status, violations)]


def check_har(har: dict[str, Any], name: str, *, strict: bool = False) -> list[Report]:
    """A report for every Profile API entry of a HAR; other entries are ignored. A HAR
    whose entries are not shaped as HAR says so (UnusableInput naming the entry and field)."""
    reports = []
    entries = har["log"]["entries"]
    if not isinstance(entries, list):
        raise UnusableInput(f"{name}: `log.entries` is {shown_kind(entries)}, not a list")
    for index, entry in enumerate(entries, start=1):
        try:
            report = _check_entry(entry, f"{name} entry {index}", strict)
        except _NotHar as exc:
            raise UnusableInput(f"{name} entry {index}: {exc}") from None
        if report is not None:
            reports.append(report)
    return reports


def _not_har(data: Any) -> str:
    """Why a file named ``.har``, or with a top-level `log` (no Profile API body has one),
    is no usable HAR."""
    log = data.get("log") if isinstance(data, dict) else None
    if not isinstance(data, dict):
        why = f"the file holds {shown_kind(data)}, not an object"
    elif "log" not in data:
        why = "`log` is missing"
    elif not isinstance(log, dict):
        why = f"`log` is {shown_kind(log)}, not an object"
    else:
        why = "`log.entries` is missing"
    return (
        f"not a HAR: {why} (a HAR's `log.entries` lists the requests); export it again with"
        " its requests, or give --endpoint or --url if it is a response body"
    )


class _NotHar(Exception):
    """A HAR entry field of the wrong kind: what it is and what HAR says it should be."""


def _object(value: Any, where: str) -> dict[str, Any]:
    """A HAR object (an absent or null one reads as empty)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _NotHar(f"`{where}` is {shown_kind(value)}, not an object")
    return value


def _check_entry(entry: Any, label: str, strict: bool) -> Report | None:
    """The report of one HAR entry; None when it is not a Profile API call."""
    entry = _object(entry, "entry")
    request = _object(entry.get("request"), "request")
    response = _object(entry.get("response"), "response")
    url = str(request.get("url", ""))
    try:
        target = endpoint_for_url(url)
    except UnknownEndpoint:
        return None
    status = response.get("status") or 0
    if isinstance(status, float) and status.is_integer():
        status = int(status)
    if isinstance(status, bool) or not isinstance(status, int):
        raise _NotHar(f"`response.status` is {shown_kind(status)}, not a whole number")
    method = str(request.get("method", "GET")).upper()
    label = f"{label}: {method} {url} {status}"
    endpoint = schema_for(target.endpoint, status)
    # A browser's own entries first: status 0 is its word for "nothing was answered".
    skipped = PREFLIGHT if method == "OPTIONS" else BLOCKED if status == 0 else None
    if skipped is not None:
        return Report(label, endpoint, status, skipped=skipped)
    content = _object(response.get("content"), "response.content")
    # A HAR without a mimeType (or an empty one) does not say what the answer was labelled:
    # its label is not reported.
    media = media_type(str(content.get("mimeType") or "")) or None
    checked = check_body(method, status, media, lambda: _har_body(content), target, strict=strict)
    return Report(label, endpoint, status, checked.violations, skipped=checked.skipped)


def _har_body(content: dict[str, Any]) -> bytes | str:
    """An entry's body (base64 undone), or UnreadBody: why it has none."""
    text = content.get("text")
    if text is None:
        raise UnreadBody("the HAR has no response body for this entry (export it with content)")
    if not isinstance(text, str):
        raise _NotHar(f"`response.content.text` is {shown_kind(text)}, not a string")
    if content.get("encoding") != "base64":
        return text
    try:
        # Checked: b64decode skips what is not base64, and JSON written as it is came out as
        # bytes that were then "not JSON". Line breaks are allowed, as in MIME.
        return base64.b64decode("".join(text.split()), validate=True)
    except ValueError:  # binascii.Error, a character beyond ASCII
        raise UnreadBody(
            "the response body is not valid base64 (its `encoding` is base64)"
        ) from None
