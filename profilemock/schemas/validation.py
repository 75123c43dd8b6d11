"""Validate response bodies — the fake's or the real API's — against the contract."""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from profilemock.api import BOOLEAN_WORDS, HTTP_STATUSES, RESOURCES, is_http_status
from profilemock.jsontext import JsonInputError, read_json_repeats
from profilemock.problems import json_pointer
from profilemock.realism import GATEWAY_STATUSES
from profilemock.schemas.explain import explain
from profilemock.schemas.registry import BASE_URI, fast_validator, is_rfc3339, registry
from profilemock.words import counted, named, not_one_of

if TYPE_CHECKING:  # imported by the first check that needs it (registry.py says why)
    from jsonschema import Draft202012Validator

ENDPOINT_SCHEMAS = {
    "traits": "traits.schema.json",
    "traits_verbose": "traits-verbose.schema.json",
    "external_ids": "external-ids.schema.json",
    "events": "events.schema.json",
    "metadata": "metadata.schema.json",
    "links": "links.schema.json",
    "profiles": "profiles.schema.json",
    "error": "error.schema.json",
}
BODIES = ("traits", "external_ids", "events", "metadata", "links", "profiles", "error")
"""The response bodies with a schema, by name (``validate(body, name)``); the routes
themselves are ``profilemock.api.ENDPOINTS``."""
_ROUTE = re.compile(
    r"/v1/(?:spaces|namespaces)/[^/]+/collections/[^/]+/profiles(?:/(?P<identifier>[^/]+)/(?P<resource>[^/]+))?/?$"
)


class UnknownEndpoint(ValueError):
    """A URL that is not one of the Profile API's routes."""


@dataclass(frozen=True, slots=True)
class Violation:
    """One way a body breaks the contract."""

    pointer: str
    """JSON pointer to the offending value ("" for the whole body)."""
    rule: str
    """The schema keyword that failed: type, required, additionalProperties, format…"""
    message: str

    def __str__(self) -> str:
        return f"{self.shown_pointer}: {self.message} [{self.rule}]"

    @property
    def shown_pointer(self) -> str:
        """The pointer for a line of text: ``/`` for the whole body, and as JSON writes it
        when a key on the way holds a line break (one the upstream wrote split the line)."""
        return named(self.pointer or "/", ticks="")

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Target:
    """Which schema a response is checked against."""

    endpoint: str
    verbose: bool = False


def schema_for(endpoint: str, status: int) -> str:
    """The schema an answer of ``endpoint`` with ``status`` is checked against: an error
    answer (4xx, 5xx) against the API's error envelope, any other against the route's."""
    return "error" if status >= 400 else endpoint


def endpoint_for_url(url: str) -> Target:
    """The endpoint a Profile API URL (any host, absolute or path only) addresses."""
    parts = urlsplit(url)
    match = _ROUTE.search(parts.path)
    if match is None:
        raise UnknownEndpoint(
            f"`{url}` is not a Profile API route: those are"
            " /v1/spaces/SPACE/collections/COLLECTION/profiles (the list) and"
            " /v1/spaces/SPACE/collections/COLLECTION/profiles/ID/RESOURCE"
        )
    resource = match.group("resource")
    if resource is None:
        return Target("profiles")
    resource = unquote(resource)
    if resource not in RESOURCES:
        raise UnknownEndpoint(
            f"`{url}` names no resource of the Profile API:"
            f" {not_one_of('resource', resource, RESOURCES)}"
        )
    verbose = any(BOOLEAN_WORDS.get(v, False) for v in parse_qs(parts.query).get("verbose", []))
    return Target(resource, verbose=resource == "traits" and verbose)


@cache
def _validator(schema_name: str, strict: bool) -> Draft202012Validator:
    from jsonschema import Draft202012Validator, FormatChecker

    checker = None
    if strict:
        checker = FormatChecker(formats=())
        checker.checks("date-time")(is_rfc3339)
    return Draft202012Validator(
        {"$ref": BASE_URI + schema_name},
        registry=registry(strict),
        format_checker=checker,
    )


def validate(
    body: Any, endpoint: str, *, verbose: bool = False, strict: bool = False
) -> list[Violation]:
    """Every violation of ``endpoint``'s schema in ``body`` (empty when valid).

    ``strict`` also reports fields the contract does not name and timestamps that are not
    RFC 3339; the default accepts both, as the real API may add fields.
    """
    if endpoint not in BODIES:
        raise UnknownEndpoint(f"unknown endpoint `{endpoint}`; endpoints are {', '.join(BODIES)}")
    key = "traits_verbose" if endpoint == "traits" and verbose else endpoint
    fast = fast_validator(ENDPOINT_SCHEMAS[key], strict)
    if fast is not None and fast(body):
        return []
    validator = _validator(ENDPOINT_SCHEMAS[key], strict)
    violations = [
        Violation(json_pointer(path), rule, message)
        for error in validator.iter_errors(body)
        for path, rule, message in explain(error, "field", typed=False)
    ]
    # Alternatives of a schema (one per event type) can report the same miss twice.
    return sorted(set(violations), key=lambda v: (v.pointer, v.rule, v.message))


def validate_response(url: str, status: int, body: Any, *, strict: bool = False) -> list[Violation]:
    """Violations of a response to ``url``: the error schema for 4xx and 5xx answers. A
    1xx, 204 or 3xx answer holds no body of the API (``nothing_to_check``): a ValueError
    says so, as ``profilemock validate`` refuses such a body file (its endpoint's schema
    passed a redirect's page as the traits it never was)."""
    target = endpoint_for_url(url)
    why = nothing_to_check("GET", checked_status(status))
    if why is not None:
        raise ValueError(f"a {status} answer holds no body of the API to check ({why})")
    schema = schema_for(target.endpoint, status)
    return validate(body, schema, verbose=target.verbose, strict=strict)


def checked_status(status: Any) -> int:
    """``status`` when it is an HTTP status (100 to 599), else a TypeError: one such as 4040
    or ``"404"`` chose the schema silently (the command line's ``--status`` is held to the
    same range)."""
    if not is_http_status(status):
        raise TypeError(f"status is {HTTP_STATUSES}, such as 404; got {status!r}")
    return status


# Each reason reads ``LABEL: why``; a summary counts them by their label (``skip_label``).
NO_BODY = "HEAD: an answer without a body"
INTERIM = "1xx: an interim answer, not the final one"
NO_CONTENT = "204: no content, an answer without a body"
NOT_MODIFIED = "304: not modified, its body came from the browser's cache"
REDIRECT = "3xx: a redirect, the request it leads to is an entry of its own"


def nothing_to_check(method: str, status: int) -> str | None:
    """Why an answer to ``method`` holds no body of the API to check (None when it does),
    as ``profilemock validate`` tells it of a HAR entry: a HEAD, 204 or 1xx answer has
    none, a redirect's is not the API's, a 304's is a cached copy. The validating proxy
    skips the same answers; a status that is no HTTP status (``status_violation``) both
    report first."""
    if method.upper() == "HEAD":
        return NO_BODY
    if status < 200:
        return INTERIM
    if status == 204:
        return NO_CONTENT
    if status == 304:
        return NOT_MODIFIED
    if 300 <= status < 400:
        return REDIRECT
    return None


GATEWAY_PAGE = (
    "gateway page: a 502, 503 or 504 not labelled JSON, a load balancer's own page or none"
    " rather than the API's answer; --strict checks it"
)


def skip_label(reason: str) -> str:
    """The short name of a reason an answer was not checked (``3xx`` for ``REDIRECT``,
    ``gateway page``): what a summary counts by, the whole reason being told of each one."""
    return reason.partition(": ")[0]


def gateway_page(status: int, content_type: str) -> str | None:
    """Why an answer is a gateway's, not the API's (None when it may be the API's): a 502,
    503 or 504 whose Content-Type (its media type, lower case) is not JSON — the HTML page
    or empty body a load balancer sends, as the fake's ``gateway_errors`` realism makes
    them. Lenient checks leave it out (a client meets it, and the API's contract does not
    speak for it); strict ones hold it to the API's envelope."""
    if status in GATEWAY_STATUSES and content_type != "application/json":
        return GATEWAY_PAGE
    return None


def media_type(content_type: str) -> str:
    """The media type of a ``Content-Type`` value, in lower case and without its
    parameters: ``application/json`` of ``Application/JSON; charset=utf-8``."""
    return content_type.partition(";")[0].strip().lower()


def content_type_violation(content_type: str) -> Violation | None:
    """The violation of a JSON body of the API labelled otherwise than ``application/json``
    (``content_type``: its media type, lower case; empty when there is none), as the API
    labels every answer; else None. The proxy and ``validate``'s HAR entries both report
    it."""
    if content_type == "application/json":
        return None
    if not content_type:
        return Violation(
            "", "content-type", "the answer has no Content-Type; it should be `application/json`"
        )
    return Violation(
        "", "content-type", f"Content-Type is `{content_type}`, not `application/json`"
    )


_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    *((b"\x78" + second, "zlib (deflate)") for second in (b"\x01", b"\x5e", b"\x9c", b"\xda")),
)
"""How a body in a content coding starts (Brotli has no such mark)."""


def still_coded(body: bytes, coding: str = "") -> str | None:
    """Why a body that is not JSON text is still content-coded, in words after "the body
    is" (None when it shows no sign of it): its ``Content-Encoding`` ``coding`` was left on
    it (not undone), or it starts with the magic bytes of gzip, zlib or zstd. It read as
    "not UTF-8 (byte 2)"."""
    magic = next((name for start, name in _MAGIC if body.startswith(start)), None)
    if magic == "zlib (deflate)" and not _inflates(body):
        magic = None  # text can start so too: "x^2 …" was told "still content-coded"
    marks = []
    if {c.strip().lower() for c in coding.split(",")} - {"", "identity"}:  # identity: none
        marks.append(f"its Content-Encoding `{coding}` was not undone")
    if magic is not None:
        shown = " ".join(f"{byte:02x}" for byte in body[: 4 if magic == "zstd" else 2])
        marks.append(f"it starts with {magic}'s magic bytes {shown}")
    return f"still content-coded: {', and '.join(marks)}" if marks else None


def _inflates(body: bytes) -> bool:
    """Whether ``body``'s first bytes read as a zlib stream (as far as they go)."""
    try:
        zlib.decompressobj().decompress(body[:64])
    except zlib.error:
        return False
    return True


REPEATED_KEY = "duplicate-key"


def read_body_json(text: str) -> tuple[Any, list[Violation]]:
    """A body's JSON ``text`` read as ``jsontext.read_json`` reads it (its errors too), and a
    violation for each key an object of it holds more than once: the API's contract is
    what clients read, and they disagree on which value counts (most keep the last, as the
    schemas are checked here; some the first)."""
    data, repeats = read_json_repeats(text)
    return data, [
        Violation(
            json_pointer((*r.path, r.key)),
            REPEATED_KEY,
            f"the key {named(r.key)} is given {r.times} times in one object; clients disagree on"
            " which value counts (most keep the last, which is the one checked; some the"
            " first)",
        )
        for r in repeats
    ]


def status_violation(status: int) -> Violation | None:
    """The violation of an answer whose status is no HTTP status (HTTP/1.1's three digits
    let 000 to 099 and 600 to 999 through), else None."""
    if is_http_status(status):
        return None
    return Violation("", "status", f"{status} is not {HTTP_STATUSES}")


def _raise(violations: list[Violation], what: str) -> None:
    if violations:
        lines = "\n".join(f"  {v}" for v in violations)
        count = len(violations)
        raise AssertionError(
            f"{what} breaks the contract ({counted(count, 'violation')}):\n{lines}"
        )


def assert_valid(body: Any, endpoint: str, *, verbose: bool = False, strict: bool = False) -> None:
    """Raise AssertionError listing every violation of ``endpoint``'s schema."""
    _raise(validate(body, endpoint, verbose=verbose, strict=strict), f"the {endpoint} body")


def assert_valid_response(url: str, status: int, body: Any, *, strict: bool = False) -> None:
    """Raise AssertionError listing every violation in the response to ``url``."""
    _raise(validate_response(url, status, body, strict=strict), f"the response to {url}")


UNREAD: Any = object()
"""The data of a body ``check_body`` did not read (not JSON, or not checked at all)."""
NO_ROUTE = "not a route of the API, and no error: nothing of the API's to check"


@dataclass(frozen=True)
class Checked:
    """What ``check_body`` found of one answer."""

    violations: list[Violation] = field(default_factory=list)
    skipped: str | None = None
    """Why the answer was not checked (``nothing_to_check``, ``GATEWAY_PAGE``, ``NO_ROUTE``)."""
    data: Any = UNREAD
    """The body's data, when it was read as JSON (else ``UNREAD``)."""


class UnreadBody(Exception):
    """Why an answer's body is not there to check (a HAR entry's: exported without it, or
    not base64 as it says), told as the body's violation."""


def check_body(
    method: str,
    status: int,
    media: str | None,
    body: Callable[[], bytes | str],
    target: Target | None,
    *,
    strict: bool,
    coding: str = "",
) -> Checked:
    """The contract checks of one answer, in the one order the validating proxy and
    ``validate`` of a HAR entry both run them: its status (``status_violation``), whether it
    holds a body of the API (``nothing_to_check``; a gateway's page, ``gateway_page``,
    unless ``strict``), JSON at all, its label (``content_type_violation``), keys given
    twice, and the schema of ``target``'s route (the error envelope for a 4xx or 5xx).

    ``media``: the answer's media type (``media_type``), "" when it has no Content-Type,
    None when it is not known (a HAR that does not say; then not reported). ``body``: read
    only when the answer is checked; it may raise ``UnreadBody``. ``target``: None for a
    path that is no route of the API, whose answers are checked only when they are errors.
    ``coding``: the ``Content-Encoding`` the body is still in (one the client session did
    not undo)."""
    wrong = status_violation(status)
    if wrong is not None:
        return Checked([wrong])
    skipped = nothing_to_check(method, status)
    if skipped is None and not strict:
        skipped = gateway_page(status, media or "")
    if skipped is None and target is None and status < 400:
        skipped = NO_ROUTE
    if skipped is not None:
        return Checked(skipped=skipped)
    try:
        raw = body()
    except UnreadBody as exc:
        return Checked([Violation("", "json", str(exc))])
    try:
        data, repeated = read_body_json(raw if isinstance(raw, str) else raw.decode("utf-8"))
    except JsonInputError as exc:
        if exc.syntax:
            return Checked([not_json(media, raw, exc.where, coding)])
        # beyond a limit: nesting...
        return Checked([Violation("", "json", exc.about("the body"))])
    except UnicodeDecodeError as exc:
        return Checked([not_json(media, raw, f"not UTF-8 (byte {exc.start + 1})", coding)])
    found = []
    mislabelled = None if media is None else content_type_violation(media)
    if mislabelled is not None:
        found.append(mislabelled)
    found += repeated
    if target is None:
        found += validate(data, "error", strict=strict)
    else:
        schema = schema_for(target.endpoint, status)
        found += validate(data, schema, verbose=target.verbose, strict=strict)
    return Checked(found, data=data)


def not_json(media: str | None, body: bytes | str, why: str, coding: str = "") -> Violation:
    """``why`` the body is not JSON, where (as ``read_json`` tells it), how it is labelled
    (``media``, as ``check_body`` takes it) and how it starts; or that it is still
    content-coded (``still_coded``: its ``Content-Encoding`` ``coding`` not undone, or its
    first bytes), when it is."""
    what = "the body is not JSON" if media is None else f"the body is not JSON ({_labelled(media)})"
    coded = still_coded(body, coding) if isinstance(body, bytes) else None
    if coded is not None:
        # It read "not UTF-8 (byte 2); it starts '\x1f…'", of `Content-Encoding: gzip, gzip`
        # and of gzip applied twice.
        return Violation("", "json", f"{what}: {coded} ({_UNDONE if coding else _TWICE})")
    shown = body[:60] if isinstance(body, str) else body[:60].decode("utf-8", "replace")
    return Violation("", "json", f"{what}: {why}; it starts {shown!r}")


_UNDONE = "the proxy undoes one gzip, deflate, br or zstd coding, and passes others on as they came"
_TWICE = "a coding applied twice, or one its Content-Encoding does not name"


def _labelled(media: str) -> str:
    """``Content-Type `text/html` ``, or ``no Content-Type`` (it said ``Content-Type
    `none` ``, as if that were the type)."""
    return f"Content-Type `{media}`" if media else "no Content-Type"
