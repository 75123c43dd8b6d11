"""Record real profiles into a fixture file that the fake serves with the same answers.

For each profile every resource is fetched, every cursor followed to the end: traits
(``verbose=true`` for sources and times, ``class=`` to tell computed traits and audiences
apart), external ids (with the ``map_…`` ids the cursors reveal), events, metadata and
links. The file written pins everything the fake would otherwise derive — segment ids,
id sources and times, per-source trait times, message ids, metadata — and ``now:`` to the
moment of recording, so ``profilemock serve --fixtures FILE`` answers the same requests
with the same bodies and cursors (the list-profiles route aside: it lists the whole space).

Linked profiles that are not recorded become stubs holding the ids the links answer shows,
so links answer the same too. The real token is never written: the space gets the
fixture token.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import re
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, fields
from typing import Any, TextIO
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import aiohttp
from yarl import URL

from profilemock import schemas
from profilemock.api import (
    EVENTS_WINDOW_DAYS,
    HINT_HEADER,
    LOWERCASED_ID_TYPES,
    OTHER,
    TOKEN_VARIABLE,
    Collection,
    basic_authorization,
    is_digits,
)
from profilemock.clock import Clock
from profilemock.contract.redact import Redactor
from profilemock.contract.upstream import (
    DEFAULT_MAX_BODY,
    BodyTooLarge,
    read_body,
    read_decoded,
    upstream_failure,
)
from profilemock.fixtures.loader import load_data
from profilemock.jsontext import JsonInputError, read_json
from profilemock.mockserver.lookup import in_the_other_collection
from profilemock.problems import FixtureError
from profilemock.progress import ProgressBar
from profilemock.schemas.validation import read_body_json, still_coded
from profilemock.store import ids as idgen
from profilemock.store.model import Metadata
from profilemock.store.wire import CALL_FIELDS
from profilemock.timeutil import DAY_NS, format_ns, parse_iso
from profilemock.words import counted

Sleep = Callable[[float], Awaitable[None]]
IdKey = tuple[str, str]
"""(id type, id value) of an external id."""


class RecordError(Exception):
    """A problem that stops the whole recording (the token refused, the upstream gone)."""


class ProfileFailed(Exception):
    """A problem that stops recording one profile; the others go on."""


class NotFound(Exception):
    """A 404 of the API's own (its error envelope): no such profile."""

    def __init__(self, hint: str | None) -> None:
        super().__init__(hint)
        self.hint = hint
        """The upstream's ``Profilemock-Hint`` (a profilemock upstream says why), if any."""


@dataclass(frozen=True)
class Retry:
    """How hard to try: 429s back off exponentially with jitter, as the API reference
    asks; 5xx answers and broken connections are retried a bounded number of times."""

    rate_limited: int = 8
    server_errors: int = 3
    base: float = 0.5
    """Seconds before the first retry; each retry doubles it (a random half to all of it)."""
    cap: float = 30.0


@dataclass
class Recorded:
    """What the upstream answered about one profile."""

    collection: Collection
    asked: str
    segment_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    traits: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Key -> {value, source_id, updated_at}, in the upstream's order."""
    klass: dict[str, str] = field(default_factory=dict)
    """Key -> computed_trait | audience (plain traits are absent)."""
    external_ids: list[dict[str, Any]] = field(default_factory=list)
    map_ids: dict[IdKey, str] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    links: list[list[dict[str, Any]]] = field(default_factory=list)
    """Each linked profile's external ids, in the upstream's order."""
    left_out: list[tuple[str, str]] = field(default_factory=list)
    """(resource, pointer) of the fields the upstream answered that the contract does not
    name (``Client.left_out``): the file cannot hold them."""

    def ids(self) -> set[IdKey]:
        return {(x["type"], x["id"]) for x in self.external_ids}


class Progress:
    """On a terminal a bar (profiles and requests done, ``progress.ProgressBar``) under a
    line per profile; otherwise the line per profile alone."""

    def __init__(
        self,
        stream: TextIO,
        total: int,
        *,
        tty: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``tty``: whether ``stream`` is a terminal (None: ask it; False: never a bar)."""
        self.requests = 0
        self.bar = ProgressBar(
            stream, total, "recording", clock=clock, suffix=self._suffix, terminal=tty
        )

    def _suffix(self) -> str:
        return f" profiles, {counted(self.requests, 'request')}"

    def request(self) -> None:
        self.requests += 1
        self.bar.update(self.bar.done)

    def grow(self, more: int) -> None:
        self.bar.total += more

    def profile(self, line: str) -> None:
        self.bar.update(self.bar.done + 1)
        self.bar.say(line)

    def close(self) -> None:
        self.bar.finish()


class Client:
    """GETs against one space of the upstream, with retries."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        upstream: str,
        space: str,
        token: str,
        *,
        retry: Retry = Retry(),
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        progress: Progress | None = None,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        self.session = session
        self.max_body = max_body
        self.base = f"{upstream}/v1/spaces/{quote(space, safe='')}/collections"
        self.headers = {"Authorization": basic_authorization(token), "Accept": "application/json"}
        self.retry = retry
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.progress = progress
        self.left_out: set[tuple[str, str]] = set()
        """(resource, pointer, its indexes as ``*``) of each field the answers held that
        the contract does not name, since ``left_out`` was last emptied."""

    async def get(self, tail: str, params: Iterable[tuple[str, str]] = ()) -> Any:
        """The JSON body at ``tail``; NotFound for a 404 of the API's own."""
        query = urlencode(list(params))
        url = URL(f"{self.base}/{tail}" + (f"?{query}" if query else ""), encoded=True)
        asked = url.path + (f"?{query}" if query else "")
        limited = failed = 0
        while True:
            problem = location = retry_after = hint = None
            coding = ""
            try:
                get = self.session.get(url, headers=self.headers, allow_redirects=False)
                async with get as answer:
                    if self.progress is not None:
                        self.progress.request()
                    status = answer.status
                    location = answer.headers.get("Location")
                    retry_after = answer.headers.get("Retry-After")
                    hint = answer.headers.get(HINT_HEADER)
                    if not read_decoded(answer.headers):  # one the session left on the body
                        coding = answer.headers.get("Content-Encoding", "")
                    body = await read_body(answer, self.max_body)
            except BodyTooLarge as exc:
                raise ProfileFailed(f"GET {asked} answered {exc.status}: {exc.about()}") from None
            except asyncio.TimeoutError:
                problem, status, body = "timed out", 0, b""
            except aiohttp.ClientResponseError as exc:  # the same answer again if asked again
                failure = upstream_failure(exc)
                raise ProfileFailed(f"GET {asked} failed: the upstream {failure}") from None
            except (aiohttp.ClientError, OSError) as exc:
                problem, status, body = f"failed: the upstream {upstream_failure(exc)}", 0, b""
            if status == 429:
                limited += 1
                asked_to_wait = _seconds(retry_after)
                if limited > self.retry.rate_limited:
                    told = (
                        ""
                        if retry_after is None
                        else f", the last asking Retry-After: {retry_after}"
                    )
                    raise ProfileFailed(
                        f"GET {asked} still rate limited (429) after {limited - 1} retries{told}"
                    )
                await self._back_off(limited, asked_to_wait)
                continue
            if status >= 500 or problem is not None:
                failed += 1
                if failed > self.retry.server_errors:
                    # It said "GET …/traits answered 503 (4 tries)": which of the three
                    # traits requests, which page, and what the upstream said, untold.
                    what = problem or f"answered {status} ({failed} tries): {_shown(body)}"
                    if problem is not None:
                        what += f" ({failed} tries)"
                    raise ProfileFailed(f"GET {asked} {what}")
                await self._back_off(failed)
                continue
            if status in (401, 403) and not _api_error(body):
                # A proxy's or firewall's own page was "the upstream refused the token".
                raise RecordError(
                    f"GET {asked} answered {status} without the API's error envelope, so"
                    " not the API refusing the token (a proxy or firewall between?):"
                    f" {_shown(body)}"
                )
            if status in (401, 403):
                raise RecordError(
                    f"the upstream refused the token ({status}); check {TOKEN_VARIABLE} or"
                    " --token-file, and that the token belongs to this space"
                )
            if status == 404:
                if _api_error(body):
                    raise NotFound(hint)
                # A wrong --upstream (a web server, a path under it) had every profile
                # "not found (404)".
                raise ProfileFailed(
                    f"GET {asked} answered 404 without the API's error envelope, so not"
                    " that the profile is not found (is --upstream the API's base URL?):"
                    f" {_shown(body)}"
                )
            if status != 200:
                shown = _shown(body)
                if location is not None and 300 <= status < 400:
                    # It said "answered 302: ", of a login page's redirect, say.
                    shown = f"a redirect to {location}, not followed (the API answers in place)"
                raise ProfileFailed(f"GET {asked} answered {status}: {shown}")
            try:
                data, repeated = read_body_json(body.decode("utf-8"))
            except (UnicodeDecodeError, JsonInputError) as exc:
                coded = still_coded(body, coding)
                if coded is not None:  # it said "not UTF-8 (byte 2)"
                    raise ProfileFailed(f"GET {asked} answered a body {coded}") from None
                if isinstance(exc, JsonInputError):
                    raise ProfileFailed(f"GET {asked}: {exc.about('the body')}") from None
                raise ProfileFailed(
                    f"GET {asked} answered a body that is not UTF-8 (byte {exc.start + 1})"
                ) from None
            # What the file is written from must be what the API sends: a body out of
            # contract (a verbose trait without its source, a time that is none) is no
            # profile, and no traceback or file that does not load. Fields the contract
            # does not name are fine, as everywhere but in strict mode; times are read.
            # A key given twice: which value would the file hold? Clients disagree.
            violations = repeated + schemas.validate_response(str(url), status, data)
            strictly = schemas.validate_response(str(url), status, data, strict=True)
            violations += [v for v in strictly if v.rule == "format"]
            # Fields the contract does not name: no fixture holds them, so the file
            # answers without them (told; a metadata field made the profile unrecordable).
            self.left_out.update(
                (tail.rpartition("/")[2], _ANY_INDEX.sub("/*", v.pointer))
                for v in strictly
                if v.rule == "additionalProperties"
            )
            if violations:
                more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
                raise ProfileFailed(
                    f"GET {asked} answered a body that breaks the contract at {violations[0]}{more}"
                )
            return data

    async def _back_off(self, attempt: int, at_least: float = 0.0) -> None:
        """Wait before ``attempt``; ``at_least`` the seconds the upstream asked (a 429's
        Retry-After: the retries came sooner, and were refused), up to ``retry.cap``."""
        ceiling = min(self.retry.cap, self.retry.base * 2 ** (attempt - 1))
        wait = self.rng.uniform(ceiling / 2, ceiling)
        await self.sleep(max(wait, min(at_least, self.retry.cap)))

    async def pages(
        self, tail: str, params: list[tuple[str, str]], key: str
    ) -> list[dict[str, Any]]:
        """Every page of a list, following ``cursor.next`` (or the ``next`` of
        ``cursor.url`` when the cursor gives none); NotFound for a 404. A cursor that says
        ``has_more`` and leads nowhere, or back to a page already read, is a failure: the
        list would be recorded short, or read for ever."""
        bodies: list[dict[str, Any]] = []
        following: str | None = None
        asked_for: set[str] = set()
        while True:
            asked = params if following is None else [*params, ("next", following)]
            try:
                body = await self.get(tail, asked)
            except NotFound:
                if bodies:
                    raise ProfileFailed(f"{tail} vanished while paging") from None
                raise
            if not isinstance(body, dict) or key not in body:
                raise ProfileFailed(f"{tail} answered without `{key}`")
            bodies.append(body)
            cursor = body.get("cursor") or {}
            if not isinstance(cursor, dict) or not cursor.get("has_more"):
                return bodies
            following = _next_of(cursor)
            if following is None:
                raise ProfileFailed(
                    f"{tail}: page {len(bodies)} says has_more but its cursor gives no `next`"
                    " (nor a cursor.url with one), so the rest of the list cannot be asked for"
                )
            if following in asked_for:
                raise ProfileFailed(
                    f"{tail}: page {len(bodies)}'s cursor leads back to `next={following}`,"
                    " a page already read, so the list never ends"
                )
            asked_for.add(following)
            if len(bodies) > 100_000:
                raise ProfileFailed(f"{tail}: the cursor never ends")


_ANY_INDEX = re.compile(r"/[0-9]+(?=/|$)|(?<=^/traits)/[^/]+(?=/)")
"""An index in a list, or a trait's name before a verbose trait's field: each field is
told once, not once an item (``/data/*/channel``, ``/traits/*/source_name``)."""


def _seconds(retry_after: str | None) -> float:
    """The seconds a ``Retry-After`` of delay-seconds asks for (RFC 9110 10.2.3); 0 for
    none, or for a date (the back-off alone then)."""
    value = (retry_after or "").strip()
    return float(value) if is_digits(value) and len(value) < 10 else 0.0


def _shown(body: bytes) -> str:
    """How ``body`` starts, on one line (an HTML page's breaks and indents as spaces)."""
    return " ".join(body[:200].decode("utf-8", "replace").split()) or "(no body)"


def _api_error(body: bytes) -> bool:
    """Whether ``body`` is an error answer of the API: its envelope, in the contract."""
    try:
        data = read_json(body.decode("utf-8"))
    except (UnicodeDecodeError, JsonInputError):
        return False
    return not schemas.validate(data, "error")


def _next_of(cursor: dict[str, Any]) -> str | None:
    """The ``next`` a cursor asks the next page with: its own, else its URL's."""
    following = cursor.get("next")
    if isinstance(following, str) and following:
        return following
    url = cursor.get("url")
    if isinstance(url, str):
        found = parse_qs(urlsplit(url).query).get("next")
        if found and found[0]:
            return found[0]
    return None


async def record_profile(client: Client, collection: Collection, identifier: str) -> Recorded:
    """Everything the upstream answers about one profile; NotFound when it is not there."""
    tail = f"{collection}/profiles/{quote(identifier, safe=':@')}"
    client.left_out = set()
    metadata = await client.get(f"{tail}/metadata")
    found = Recorded(collection, identifier)
    found.segment_id = metadata.get("segment_id")
    found.metadata = dict(metadata.get("metadata") or {})
    for page in await _must(
        client.pages(f"{tail}/traits", [("verbose", "true"), ("limit", "200")], "traits")
    ):
        found.traits.update(page["traits"] or {})
    for klass in ("computed_trait", "audience"):
        params = [("class", klass), ("verbose", "true"), ("limit", "200")]
        for page in await _must(client.pages(f"{tail}/traits", params, "traits")):
            for key in page["traits"] or {}:
                found.klass[key] = klass
    pages = await _must(client.pages(f"{tail}/external_ids", [("limit", "100")], "data"))
    for page, after in zip(pages, [*pages[1:], None], strict=True):
        found.external_ids += page["data"] or []
        if after and after["data"] and page["cursor"].get("next"):
            first = after["data"][0]
            found.map_ids[(first["type"], first["id"])] = page["cursor"]["next"]
    for page in await _must(client.pages(f"{tail}/events", [("limit", "100")], "data")):
        found.events += page["data"] or []
    for page in await _must(client.pages(f"{tail}/links", [("limit", "100")], "data")):
        found.links += [item.get("external_ids") or [] for item in page["data"] or []]
    found.left_out = sorted(client.left_out)
    return found


async def _must(pages: Awaitable[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    try:
        return await pages
    except NotFound:
        raise ProfileFailed("vanished while being recorded (404)") from None


def collection_of(identifier: str) -> Collection:
    """The collection whose profiles an id of this type names in Segment: a `group_id` an
    account's, any other a user's."""
    return "accounts" if identifier.partition(":")[0] == "group_id" else "users"


def _not_found(collection: Collection, identifier: str, hint: str | None) -> str:
    """Why a profile the upstream answered 404 for was not recorded: the upstream's hint,
    and for a profile of the other collection (a `group_id` asked for in users, any other
    id in accounts: the real API gives no hint) the option that records it."""
    why = "not found (404)" + (f": {hint}" if hint else "")
    id_type, _, value = identifier.partition(":")
    if hint is None and id_type in LOWERCASED_ID_TYPES and value != value.lower():
        # From the real API (no hint) an email copied with its capitals was "not found".
        return f"{why}: `{id_type}` ids are stored in lowercase; record {id_type}:{value.lower()}"
    other = in_the_other_collection(hint)
    if other is None and collection_of(identifier) != collection:
        # Accounts asked for by another id said "not found (404)" alone.
        other = collection_of(identifier)
        why += (
            ": `group_id` is an id of accounts"
            if other == "accounts"
            else f": accounts are found by `group_id`, and `{id_type}` is an id of users"
        )
    return why if other is None else f"{why}; record it with --collection {other}"


@dataclass
class Outcome:
    recorded: list[Recorded]
    missing: list[str]
    """``collection identifier: why`` of each profile not recorded."""
    requests: int
    now: int


async def record(
    upstream: str,
    space: str,
    token: str,
    wanted: list[tuple[Collection, str]],
    *,
    follow_links: bool = False,
    timeout: float = 30.0,
    retry: Retry = Retry(),
    sleep: Sleep = asyncio.sleep,
    rng: random.Random | None = None,
    progress: Progress | None = None,
    clock: Callable[[], int] | None = None,
    max_body: int = DEFAULT_MAX_BODY,
) -> Outcome:
    """Record ``wanted`` profiles (and, with ``follow_links``, those they link to)."""
    now = clock or time.time_ns
    progress = progress or Progress(sys.stderr, len(wanted), tty=False)
    recorded: list[Recorded] = []
    missing: list[str] = []
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=timeout), cookie_jar=aiohttp.DummyCookieJar()
    ) as session:
        client = Client(
            session,
            upstream,
            space,
            token,
            retry=retry,
            sleep=sleep,
            rng=rng,
            progress=progress,
            max_body=max_body,
        )
        queue = list(dict.fromkeys(wanted))
        seen: set[tuple[Collection, IdKey]] = set()
        for hop in (0, 1):
            for collection, identifier in queue:
                label = f"{collection} {identifier}"
                try:
                    found = await record_profile(client, collection, identifier)
                except ProfileFailed as exc:
                    missing.append(f"{label}: {exc}")
                    progress.profile(f"{label}: failed: {exc}")
                    continue
                except NotFound as exc:
                    why = _not_found(collection, identifier, exc.hint)
                    missing.append(f"{label}: {why}")
                    progress.profile(f"{label}: {why}")
                    continue
                if not found.external_ids:  # nothing a fixture could find it by
                    why = "its /external_ids lists none, and a fixture profile needs one"
                    missing.append(f"{label}: {why}")
                    progress.profile(f"{label}: not recorded: {why}")
                    continue
                if any((collection, key) in seen for key in found.ids()):
                    progress.profile(f"{label}: already recorded")
                    continue
                refused = _unloadable(found, space, now())
                if refused is not None:
                    missing.append(f"{label}: {refused}")
                    progress.profile(f"{label}: not recorded: {refused}")
                    continue
                seen.update((collection, key) for key in found.ids())
                recorded.append(found)
                progress.profile(f"{label}: {_summary(found)}")
            if hop == 1 or not follow_links:
                break
            queue = []
            for found in recorded:
                other = OTHER[found.collection]
                for ids in found.links:
                    keys = [(x["type"], x["id"]) for x in ids]
                    if keys and not any((other, key) in seen for key in keys):
                        target = (other, f"{keys[0][0]}:{keys[0][1]}")
                        if target not in queue:
                            queue.append(target)
            progress.grow(len(queue))
    progress.close()
    return Outcome(recorded, missing, progress.requests, now())


def _unloadable(found: Recorded, space: str, now: int) -> str | None:
    """Why no fixture file can hold what the upstream answered about ``found`` — the
    loader refuses its entry (a trait with an empty name, an audience that is neither
    true nor false) — else None: such a file would not load."""
    try:
        load_data(to_fixture(Outcome([found], [], 0, now), space), Clock())
    except FixtureError as exc:
        first = exc.problems[0]
        where = "/".join(map(str, first.path[2:]))  # past "spaces", the space
        more = f" (and {len(exc.problems) - 1} more)" if len(exc.problems) > 1 else ""
        return f"no fixture can hold what the upstream answered: {where}: {first.message}{more}"
    return None


def _summary(found: Recorded) -> str:
    summary = ", ".join(
        (
            counted(len(found.traits), "trait"),
            counted(len(found.external_ids), "external id"),
            counted(len(found.events), "event"),
            counted(len(found.links), "link"),
        )
    )
    if found.left_out:
        named = ", ".join(f"{resource} {pointer}" for resource, pointer in found.left_out)
        summary += f"; left out (fields the contract does not name, no fixture holds): {named}"
    return summary


# -- the fixture file -------------------------------------------------------------------


def pinned_now(outcome: Outcome) -> int:
    """The clock the file pins: the end of the recording, moved (if need be) so that every
    recorded event stays inside the 14-day window and none lies in the future — as far as
    one clock can: events more than 14 days apart (profiles recorded minutes apart, each
    answering its last 14 days) leave the newest in its future (``unserved``)."""
    stamps = [parse_iso(e["timestamp"]) for r in outcome.recorded for e in r.events]
    if not stamps:
        return outcome.now
    return min(max(outcome.now, max(stamps)), min(stamps) + EVENTS_WINDOW_DAYS * DAY_NS)


def unserved(outcome: Outcome) -> str | None:
    """What of the events recorded the file's clock (``pinned_now``) leaves out of every
    answer, in words, else None: each profile's events were read at another moment, and
    those more than 14 days after the oldest are after the clock (they were written to
    the file, and ``serve`` answered without them, untold)."""
    pinned = pinned_now(outcome)
    late = [
        (found, sum(parse_iso(e["timestamp"]) > pinned for e in found.events))
        for found in outcome.recorded
    ]
    late = [(found, count) for found, count in late if count]
    if not late:
        return None
    whose = ", ".join(f"{found.collection} {found.asked} ({count})" for found, count in late)
    total = sum(count for _, count in late)
    return (
        f"{counted(total, 'event')} {'lies' if total == 1 else 'lie'} after the clock the file"
        f" pins ({format_ns(pinned)}, 14 days after the oldest event recorded), so serve"
        f" answers without them: {whose}; each profile answered its last 14 days when it was"
        " read, and the file has one clock"
    )


def to_fixture(
    outcome: Outcome,
    space: str,
    *,
    fixture_token: str = "test-token",
    redactor: Redactor | None = None,
) -> dict[str, Any]:
    """The fixture document for what was recorded."""
    writer = _Writer(space, redactor)
    return {
        "now": format_ns(pinned_now(outcome)),
        "spaces": {space: {"tokens": [fixture_token], **writer.collections(outcome.recorded)}},
    }


_METADATA_FIELDS = frozenset(f.name for f in fields(Metadata))
"""What a fixture's ``metadata:`` holds: a field the contract does not name (told in
``Recorded.left_out``) is left out, where the file it made did not load."""


class _Writer:
    def __init__(self, space: str, redactor: Redactor | None) -> None:
        self.space = space
        self.redactor = redactor

    def id_value(self, id_type: str, value: str) -> str:
        return value if self.redactor is None else self.redactor.identifier(id_type, value)

    def value(self, value: Any, key: str | None = None) -> Any:
        return value if self.redactor is None else self.redactor.value(value, key)

    def ids(
        self, collection: Collection, items: list[dict[str, Any]], map_ids: dict[IdKey, str]
    ) -> dict[str, list[dict[str, Any]]]:
        written: dict[str, list[dict[str, Any]]] = {}
        for x in items:
            value = self.id_value(x["type"], x["id"])
            item: dict[str, Any] = {"id": value}
            for name in ("source_id", "created_at"):
                if x.get(name) is not None:
                    item[name] = x[name]
            if "first_message_id" in x:  # null too: left out, the fake would derive one
                item["first_message_id"] = x["first_message_id"]
            map_id = map_ids.get((x["type"], x["id"]))
            if map_id and map_id != idgen.map_id(self.space, collection, x["type"], value):
                item["map_id"] = map_id
            written.setdefault(x["type"], []).append(item)
        return written

    def profile(self, found: Recorded) -> dict[str, Any]:
        entry: dict[str, Any] = {}
        if found.segment_id:
            entry["segment_id"] = found.segment_id
        entry["ids"] = self.ids(found.collection, found.external_ids, found.map_ids)
        for name in ("created_at", "updated_at"):
            if found.metadata.get(name):
                entry[name] = found.metadata[name]
        sources: dict[tuple[str, str], dict[str, Any]] = {}
        section = {None: "traits", "computed_trait": "computed_traits", "audience": "audiences"}
        for key, trait in found.traits.items():
            group = sources.setdefault(
                (trait["source_id"], trait["updated_at"]),
                {"source_id": trait["source_id"], "updated_at": trait["updated_at"]},
            )
            name = section[found.klass.get(key)]
            group.setdefault(name, {})[key] = self.value(trait["value"], key)
        if sources:
            entry["sources"] = list(sources.values())
        if found.events:
            entry["events"] = [self.event(e) for e in found.events]
        entry["metadata"] = {k: v for k, v in found.metadata.items() if k in _METADATA_FIELDS}
        return entry

    def event(self, event: dict[str, Any]) -> dict[str, Any]:
        """An event as the fixture writes it, with its call's own fields (a page's `name`,
        an identify's `traits`, …): a page was written `event: null`, which no fixture
        takes, and lost its name. The ids its message carried are written as the upstream
        listed them (else the fake serves what the call would carry: a server-side track
        with only a user_id was served with the anonymous_id too), one the profile no
        longer has too (it was left out)."""
        call = event.get("type", "track")
        written: dict[str, Any] = {"event": event.get("event")} if call == "track" else {}
        written |= {
            "type": call,
            "timestamp": event["timestamp"],
            "message_id": event["message_id"],
        }
        if event.get("source_id") is not None:
            written["source_id"] = event["source_id"]
        for name in (*CALL_FIELDS.get(call, ()), "context"):
            if name not in written and event.get(name) not in (None, {}):
                written[name] = self.value(event[name])
        if isinstance(event.get("external_ids"), list):
            carried: dict[str, list[str]] = {}
            for x in event["external_ids"]:
                carried.setdefault(x["type"], []).append(self.id_value(x["type"], x["id"]))
            written["external_ids"] = {
                id_type: values[0] if len(values) == 1 else values
                for id_type, values in carried.items()
            }
        return written

    def collections(self, recorded: list[Recorded]) -> dict[str, list[dict[str, Any]]]:
        """Users and accounts, recorded and stubs, with every link declared on the user's
        side and users ordered so each recorded account lists them as the upstream did."""
        entries: dict[tuple[Collection, IdKey], dict[str, Any]] = {}
        owner: dict[tuple[Collection, IdKey], tuple[Collection, IdKey]] = {}
        first_seen: list[tuple[Collection, IdKey]] = []

        def node(
            collection: Collection, ids: list[dict[str, Any]]
        ) -> tuple[Collection, IdKey] | None:
            keys = [(x["type"], x["id"]) for x in ids]
            for key in keys:
                if (collection, key) in owner:
                    return owner[(collection, key)]
            if not keys:
                return None
            me = (collection, keys[0])
            entries[me] = {"ids": self.ids(collection, ids, {})}
            for key in keys:
                owner[(collection, key)] = me
            first_seen.append(me)
            return me

        for found in recorded:
            me = (found.collection, sorted(found.ids())[0]) if found.external_ids else None
            if me is None:
                continue
            entries[me] = self.profile(found)
            for key in found.ids():
                owner[(found.collection, key)] = me
            first_seen.append(me)

        def reference(target: tuple[Collection, IdKey]) -> str:
            segment_id = entries[target].get("segment_id")
            if segment_id:
                return str(segment_id)
            id_type, value = target[1]
            return f"{id_type}:{self.id_value(id_type, value)}"

        orders: list[list[tuple[Collection, IdKey]]] = []
        for found in recorded:
            if not found.external_ids:
                continue
            me = owner[(found.collection, sorted(found.ids())[0])]
            linked = [n for ids in found.links if (n := node(OTHER[found.collection], ids))]
            if found.collection == "users":
                for account in linked:
                    self._declare(entries[me], reference(account))
            else:
                for user in linked:
                    self._declare(entries[user], reference(me))
                orders.append(linked)
        users = [n for n in _ordered(first_seen, orders) if n[0] == "users"]
        accounts = [n for n in first_seen if n[0] == "accounts"]
        result: dict[str, list[dict[str, Any]]] = {}
        if users:
            result["users"] = [entries[n] for n in users]
        if accounts:
            result["accounts"] = [entries[n] for n in accounts]
        return result

    @staticmethod
    def _declare(entry: dict[str, Any], target: str) -> None:
        links = entry.setdefault("links", [])
        if target not in links:
            links.append(target)


def _ordered(nodes: list[Any], orders: list[list[Any]]) -> list[Any]:
    """``nodes`` ordered so each list in ``orders`` keeps its order (a stable topological
    sort by first appearance); what a cycle leaves is appended as first seen."""
    rank = {n: i for i, n in enumerate(dict.fromkeys(nodes))}
    after: dict[Any, set[Any]] = {n: set() for n in rank}
    before: dict[Any, int] = dict.fromkeys(rank, 0)
    for order in orders:
        for a, b in itertools.pairwise(order):
            if b not in after[a]:
                after[a].add(b)
                before[b] += 1
    ready = sorted((n for n in rank if before[n] == 0), key=rank.__getitem__)
    result: list[Any] = []
    while ready:
        n = ready.pop(0)
        result.append(n)
        for m in sorted(after[n], key=rank.__getitem__):
            before[m] -= 1
            if before[m] == 0:
                ready.append(m)
        ready.sort(key=rank.__getitem__)
    placed = set(result)
    return result + [n for n in rank if n not in placed]
