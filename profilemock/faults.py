"""Fault rules: which requests to break (match), how (action) and when (schedule).

One rule model for every source — fixture files, ``--fault`` specs, the admin API and the
Python API. Rules are tried in order; the first that fires applies. Randomness (the
probability schedule, latency draws) comes from a generator seeded with the server's seed
and the rule's id, so the same seed and the same requests give the same faults.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import cache
from typing import TYPE_CHECKING, Any

from profilemock.api import (
    COLLECTIONS,
    ENDPOINTS,
    FAULT_HEADER,
    REQUEST_ID_HEADER,
    is_decimal,
    is_digits,
)
from profilemock.jsonbytes import unwritable
from profilemock.problems import FieldError, Path, json_pointer
from profilemock.schemas.explain import explain
from profilemock.schemas.registry import BASE_URI, input_validator, registry
from profilemock.timeutil import DURATION, NS_PER_SECOND, TimestampError, parse_duration
from profilemock.words import (
    closest,
    counted,
    did_you_mean,
    few,
    named,
    not_one_of,
    shown_kind,
)

if TYPE_CHECKING:  # a rule is checked by jsonschema, imported for the first rule
    from jsonschema import Draft202012Validator

CONNECTION_FAULTS = ("reset", "empty", "hang")
ORIGINS = ("fixtures", "settings", "runtime")
"""Where a rule came from: the fixture files, the server's settings (``--fault``) — the
standing rules every reset brings back — or run time (a test, the Python API, the admin
API)."""
BODY_FAULTS = ("truncate", "malformed")
ROUTES = ("*", *ENDPOINTS)
"""What a rule's ``route`` may be (the fixture schema's ``fault_rule.route`` enum)."""
MAX_HANG_NS = 300 * NS_PER_SECOND
DEFAULT_HANG_NS = 30 * NS_PER_SECOND
# z-score of the 95th percentile of a normal distribution: p95 = p50 * exp(1.645 sigma).
_Z95 = 1.6448536269514722


ORIGIN_WORDS = {"fixtures": " of the fixture files", "settings": " of --fault"}
"""How a message names where a rule came from, after its id (a test's own: nothing)."""


class FaultRuleError(FieldError):
    """A rule that cannot be used; the message names the field and what is allowed."""


def _at(name: str, reason: str) -> FaultRuleError:
    """What is wrong with a rule's field ``name`` (dotted: ``latency.min``), in words that
    name it in prose: ``fault rule: `hang` may last at most 300s``."""
    return FaultRuleError(f"fault rule: `{name}` {reason}", tuple(name.split(".")), reason)


@dataclass(frozen=True, slots=True)
class Latency:
    """A delay: fixed, uniform between two bounds, or log-normal from its p50 and p95."""

    kind: str
    low: int
    high: int = 0

    def draw(self, rng: random.Random) -> int:
        if self.kind == "fixed":
            return self.low
        if self.kind == "uniform":
            return rng.randint(self.low, self.high)
        sigma = (math.log(self.high) - math.log(self.low)) / _Z95
        return int(rng.lognormvariate(math.log(self.low), sigma))


@dataclass
class FaultRule:
    """One rule, with the counters its schedule needs."""

    id: str
    route: str = "*"
    method: str = "*"
    space: str = "*"
    collection: str = "*"
    identifier: str = "*"
    status: int | None = None
    body: Any = None
    has_body: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    latency: Latency | None = None
    fault: str | None = None
    hang_ns: int = DEFAULT_HANG_NS
    times: int | None = None
    after: int = 0
    every: int | None = None
    probability: float | None = None
    source: dict[str, Any] = field(default_factory=dict)
    """The rule as given (shown by the admin API)."""
    id_given: bool = False
    """Whether the rule gave its ``id`` (else it was numbered, ``fault-N``)."""
    written: str = ""
    """The rule as its author wrote it: the ``--fault`` spec, else its fields as JSON
    (what a message about the rule quotes)."""
    origin: str = "runtime"
    """One of ``ORIGINS``: the fixture files', ``--fault``'s, or armed at run time."""
    optional: bool = False
    """A test armed it as a guard for a call the code may not make: it need not fire
    (``assert_faults_fired`` leaves it out; the fixtures' and ``--fault``'s rules never
    have to fire)."""
    matched: int = 0
    fired: int = 0
    refused_first: int = 0
    """Requests it fired on whose answer the API refused first (a 404, say): a body fault
    (``truncate``, ``malformed``) had no body to break, and is not counted as fired."""
    shadowed: dict[str, None] = field(default_factory=dict)
    """The earlier rules (as a message names them) that fired first on requests it
    matches, in the order met: it was never asked about those requests."""
    near: str | None = None
    """The first identifier asked for that its ``identifier`` glob missed only by case
    (``user_id:Alice`` armed, ``user_id:alice`` asked), with the rest of the rule matching:
    what a message about a rule that matched nothing names."""
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def note_near(
        self, route: str, method: str, space: str, collection: str, identifier: str | None
    ) -> None:
        """Keep ``identifier`` as ``near`` when only its case kept the rule from matching."""
        if self.near is None and identifier and self.identifier != "*":
            glob = self.identifier.casefold()
            if fnmatchcase(identifier.casefold(), glob) and self._matches_besides_identifier(
                route, method, space, collection
            ):
                self.near = identifier

    def matches(
        self, route: str, method: str, space: str, collection: str, identifier: str | None
    ) -> bool:
        return self._matches_besides_identifier(route, method, space, collection) and (
            self.identifier == "*" or fnmatchcase(identifier or "", self.identifier)
        )

    def _matches_besides_identifier(
        self, route: str, method: str, space: str, collection: str
    ) -> bool:
        return (
            (self.route == "*" or self.route == route)
            and (self.method == "*" or self.method == method)
            and fnmatchcase(space, self.space)
            and fnmatchcase(collection, self.collection)
        )

    def decide(self) -> bool:
        """Count one matching request and say whether the rule fires for it."""
        self.matched += 1
        position = self.matched - self.after
        if position <= 0:
            return False
        if self.every is not None and position % self.every != 0:
            return False
        if self.times is not None and self.fired >= self.times:
            return False
        if self.probability is not None and self.rng.random() >= self.probability:
            return False
        self.fired += 1
        return True

    def as_dict(self) -> dict[str, Any]:
        """The rule as given, with ``optional`` (given or not) and its counters."""
        return {
            "id": self.id,
            **self.source,
            "optional": self.optional,
            "matched": self.matched,
            "fired": self.fired,
        }

    @property
    def chance(self) -> bool:
        """The rule fires on a matching request only by chance (``probability`` below 1)."""
        return self.probability is not None and self.probability < 1

    def unused(self) -> str | None:
        """Why the rule did not do what it was armed for, or None when it did: it never
        fired; a rule that fires by chance (``probability`` below 1) only has to have
        matched a request — its draws may all have missed, that is what it is for."""
        if self.chance:
            if self.matched:
                return None
            return (
                f"matched no request (probability={self.probability:g} needs one to draw on)"
                + self._shadow_note()
            )
        if self.fired:
            return None
        if not self.matched:
            return "matched no request" + self._near_note() + self._shadow_note()
        why = [
            f"{name}={value}"
            for name, value in (("after", self.after), ("every", self.every))
            if value
        ]
        schedule = f" (its schedule: {', '.join(why)})" if why else ""
        if self.refused_first:
            schedule += (
                f"; the API refused {self.refused_first} of them first (an error answer),"
                f" which leaves a `{self.fault}` fault no body to break"
            )
        return (
            f"matched {counted(self.matched, 'request')} and fired on none{schedule}"
            + self._shadow_note()
        )

    def _near_note(self) -> str:
        if self.near is None:
            return ""
        return (
            f"; `{self.near}` was asked for, which differs from its identifier"
            f" `{self.identifier}` only in case (identifiers are case-sensitive)"
        )

    def _shadow_note(self) -> str:
        """Why it was never asked about requests it matches: an earlier rule fired first."""
        if not self.shadowed:
            return ""
        return (
            f"; requests it matches went to {' and '.join(self.shadowed)}, an earlier rule"
            " that fired on them first (rules are tried in order; the first that fires answers)"
        )


@cache
def _rule_validator() -> Draft202012Validator:
    """The fault rule as the fixture schema defines it: one definition for every source."""
    rule = {"$ref": f"{BASE_URI}fixture.schema.json#/$defs/fault_rule"}
    validator: Draft202012Validator = input_validator()(rule, registry=registry())
    return validator


def _duration(value: str, name: str) -> int:
    try:
        return parse_duration(value)
    except TimestampError:
        raise _at(name, f"must be a duration such as 150ms, 2s or 1m, got `{value}`") from None


def _latency(value: Any) -> Latency:
    latency = _latency_of(value)
    if max(latency.low, latency.high) > MAX_HANG_NS:
        raise _at(
            "latency", "may last at most 300s (as `hang`); a reset or shutdown ends it sooner"
        )
    return latency


def _latency_of(value: Any) -> Latency:
    if isinstance(value, str):
        return Latency("fixed", _duration(value, "latency"))
    if "min" in value:
        low, high = _duration(value["min"], "latency.min"), _duration(value["max"], "latency.max")
        if low > high:
            raise _at("latency.min", "must not be above `latency.max`")
        return Latency("uniform", low, high)
    p50, p95 = _duration(value["p50"], "latency.p50"), _duration(value["p95"], "latency.p95")
    if not 0 < p50 <= p95:
        raise _at("latency", "needs 0 < p50 <= p95")
    return Latency("lognormal", p50, p95)


FRAMING_HEADERS = frozenset(
    (
        "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade",
        "te", "trailer", "proxy-connection", "host",
    )
)  # fmt: skip
"""Headers that say how the message is framed or the connection used: a rule setting them
would break the exchange in ways no real server does (use ``fault:`` for that). The fixture
schema's ``fault_rule.headers`` refuses them, with ``SERVER_HEADERS``, names that are not
tokens and values that cannot be sent (a line break, a control character, surrounding
spaces)."""

SERVER_HEADERS = frozenset(name.lower() for name in (REQUEST_ID_HEADER, FAULT_HEADER))
"""Headers the server sets on every answer, a fault's too: a rule's was dropped without a
word (``Request-Id``), or sent beside the server's (``profilemock-fault``, spelled
otherwise)."""


def parse_rule(data: Mapping[str, Any], default_id: str) -> FaultRule:
    """A rule from its dict form; raises FaultRuleError naming the field and what is allowed."""
    if not isinstance(data, Mapping):
        raise FaultRuleError(f"a fault rule is an object, got {shown_kind(data)}")
    # From Python: NaN passes every bound (a `probability` that never fires), a set in a
    # `body` broke the answer.
    held = next(unwritable(dict(data)), None)
    if held is not None:
        raise _refused(*held)
    errors = sorted(_rule_validator().iter_errors(dict(data)), key=lambda e: list(e.absolute_path))
    if errors:
        path, _, message = explain(errors[0], "field")[0]
        raise _refused(path, message)
    # What the schema cannot say (how they combine is in it: status, fault, body, headers).
    status, fault = data.get("status"), data.get("fault")
    matches_one("collection", data.get("collection", "*"), COLLECTIONS)
    hang_ns = _duration(data["hang"], "hang") if "hang" in data else DEFAULT_HANG_NS
    if hang_ns > MAX_HANG_NS:
        raise _at("hang", "may last at most 300s")
    return FaultRule(
        id=str(data.get("id", default_id)),
        route=data.get("route", "*"),
        method=data.get("method", "*"),
        space=data.get("space", "*"),
        collection=data.get("collection", "*"),
        identifier=data.get("identifier", "*"),
        status=status,
        body=data.get("body"),
        has_body="body" in data,
        headers=dict(data.get("headers") or {}),
        latency=_latency(data["latency"]) if "latency" in data else None,
        fault=fault,
        hang_ns=hang_ns,
        times=data.get("times"),
        after=data.get("after", 0),
        every=data.get("every"),
        probability=data.get("probability"),
        optional=data.get("optional", False),
        source={k: v for k, v in data.items() if k != "id"},
        id_given="id" in data,
    )


def matches_one(name: str, glob: str, names: Collection[str], of: str = "") -> None:
    """A FaultRuleError when a rule's glob ``name`` (``space``, ``collection``) matches none
    of ``names`` (those ``of`` something): a mistyped name, most likely, which only the
    test's end said (``assert_faults_fired``), or nothing at all of a rule that need not
    fire. (A ``space`` glob of no space of the fixtures fires on requests to a space they do
    not define, which the fake refuses otherwise: such a space needs its fixtures.)"""
    if any(fnmatchcase(each, glob) for each in names):
        return
    raise _refused(
        (name,),
        f"{named(glob)} matches no {name}{of}; {name}s are {few(names)}"
        + did_you_mean(glob, list(names)),
    )


def _refused(path: Path, message: str) -> FaultRuleError:
    """What is wrong with a rule, at the field ``path`` leads to (none: the rule itself)."""
    where = json_pointer(path).lstrip("/").replace("/", ".")
    return FaultRuleError(
        f"fault rule{' field ' + named(where) if where else ''}: {message}", path, message
    )


def _true_or_false(value: str) -> bool:
    if value not in ("true", "false"):
        raise ValueError(value)
    return value == "true"


def _whole(value: str) -> int:
    """ASCII digits only: ``int`` also reads ``٣``, `` 3`` and ``1_0``."""
    if not is_digits(value):
        raise ValueError(value)
    return int(value)


def _fraction(value: str) -> float:
    """A plain decimal: ``float`` also reads ``nan`` (a rule that never fires), ``inf``."""
    if not is_decimal(value):
        raise ValueError(value)
    return float(value)


_SPEC_KEYS: dict[str, Any] = {
    "times": _whole, "after": _whole, "every": _whole, "probability": _fraction,
    "optional": _true_or_false, "latency": str, "hang": str, "method": str, "space": str,
    "collection": str, "id": str,
}  # fmt: skip
_NOT_A_KEY = {
    "status": " (a status stands alone: traits:503)",
    "fault": " (a fault stands alone: traits:reset)",
    "route": " (the route comes first: traits:503)",
    "body": " (a body is no part of a spec: give it beside one, as fault('traits:503',"
    " body=...), or write the rule as a mapping)",
    "headers": " (headers are no part of a spec: give them beside one, as fault('traits:503',"
    " headers={'Retry-After': '2'}), or write the rule as a mapping)",
}
"""Fields of a rule that a spec writes otherwise, or not at all: what to write instead."""


def _unknown_key(key: str) -> str:
    """What a spec's unknown ``key`` was most likely meant as: a field written otherwise
    (``_NOT_A_KEY``), a key mistyped, or a header (``Retry-After=2``: a header's name has a
    dash or a capital, no key has)."""
    if key in _NOT_A_KEY:
        return _NOT_A_KEY[key]
    if key.lower() in (*_SPEC_KEYS, "identifier"):  # `Times=2`: no header's name
        return f"; did you mean `{key.lower()}`?"
    if "-" in key or key[:1].isupper():
        return " (a header? " + _NOT_A_KEY["headers"].removeprefix(" (")
    return did_you_mean(key, [*_SPEC_KEYS, "identifier"])


_SPEC_TAKES = {
    "optional": "true or false",
    "probability": "a number above 0 and at most 1, such as 0.25",
    "latency": "a duration such as 150ms, a range 100ms..2s or a long tail 50ms~400ms",
    "hang": "how long a `hang` fault holds the request, such as 5s",
    "method": "an HTTP method, such as GET",
    "space": "a space id, or a glob of them",
    "collection": " or ".join(COLLECTIONS),
    "id": "the rule's id",
    "identifier": "a profile's TYPE:VALUE, such as user_id:u1234, or a glob of them; it goes last",
}
"""What a key that is not a whole number takes, in a message."""


SPEC_PATTERN = (
    r"^(?:\*|traits|external_ids|events|metadata|links|profiles)?(?::(?:[2-5][0-9]{2}"
    r"|reset|empty|truncate|malformed|hang|(?:times|every)=0*[1-9][0-9]*|after=[0-9]+"
    r"|probability=0*(?:1(?:\.0*)?|\.[0-9]*[1-9][0-9]*)"
    rf"|latency={DURATION}(?:\.\.{DURATION}|~{DURATION})?|hang={DURATION}"
    r"|optional=(?:true|false)|method=(?:\*|GET|HEAD)|(?:space|collection)=[^:]+"
    r"|id=[A-Za-z0-9_.-]+))*"
    r"(?::identifier=[\s\S]+)?$"
)
"""The ``--fault`` specs ``parse_spec`` reads into a rule the fixture schema accepts, field
by field (how fields combine is the rule's): the admin API's ``{"spec": …}`` is held to it."""
SPEC_STATUSES = "statuses are 200 to 599, such as 503"
"""The statuses a spec takes (the fault rule's ``status``), in a message."""


def parse_spec(spec: str, given_as: str = "--fault") -> dict[str, Any]:
    """The dict form of a ``--fault`` spec such as ``traits:429:times=2`` or ``*:latency=150ms``.

    ``ROUTE[:FIELD]...``: a field is a status (``503``), a fault (``reset``, ``empty``,
    ``truncate``, ``malformed``, ``hang``) or ``key=value``. ``latency=A..B`` is uniform,
    ``latency=P50~P95`` long-tailed; ``optional=true`` (or ``false``). ``identifier=GLOB``
    takes the rest of the spec. Its errors start with where the spec was given
    (``given_as``, ``--fault`` for the command line) and the spec: ``--fault `traits:42`: …``.
    """
    said = spec_given(spec, given_as)
    head, _, rest = spec.partition(":")
    if head and head not in ROUTES:
        # First: `user_id:u1234` would otherwise be "`u1234` is not a status".
        why = not_one_of("route", head, ROUTES)
        if closest(head, ROUTES) is None:
            why += (
                " (the spec starts with one: ROUTE[:FIELD]...; a profile's id goes last, as"
                " identifier=TYPE:VALUE)"
            )
        raise FaultRuleError(f"{said}: {why}")
    rule: dict[str, Any] = {"route": head or "*"}
    while rest:
        if rest.startswith("identifier="):
            rule["identifier"] = rest[len("identifier=") :]
            break
        part, _, rest = rest.partition(":")
        key, sep, value = part.partition("=")
        if not sep:
            if re.fullmatch(r"[2-5][0-9]{2}", part):
                key = "status"
            elif part in CONNECTION_FAULTS + BODY_FAULTS:
                key = "fault"
            elif part.isdigit():
                raise FaultRuleError(f"{said}: `{part}` is not a status: {SPEC_STATUSES}")
            elif part in (*_SPEC_KEYS, "identifier"):
                takes = _SPEC_TAKES.get(part, "a whole number")
                raise FaultRuleError(f"{said}: `{part}` is a key, written {part}=VALUE ({takes})")
            else:
                raise FaultRuleError(
                    f"{said}: `{part}` is not a status ({SPEC_STATUSES}), a fault"
                    f" ({', '.join(CONNECTION_FAULTS + BODY_FAULTS)}) or key=value"
                    + _NOT_A_KEY.get(part, "")
                )
            _once(said, rule, key)
            rule[key] = int(part) if key == "status" else part
            continue
        if key not in _SPEC_KEYS:
            raise FaultRuleError(
                f"{said}: unknown key {named(key)};"
                f" keys are {', '.join(sorted(_SPEC_KEYS))}, identifier" + _unknown_key(key)
            )
        _once(said, rule, key)
        try:
            rule[key] = _SPEC_KEYS[key](value)
        except ValueError:
            raise FaultRuleError(
                f"{said}: `{key}` must be {_SPEC_TAKES.get(key, 'a whole number')}, got `{value}`"
            ) from None
        if key == "latency" and ".." in value:
            low, high = value.split("..", 1)
            rule[key] = {"min": low, "max": high}
        elif key == "latency" and "~" in value:
            p50, p95 = value.split("~", 1)
            rule[key] = {"p50": p50, "p95": p95}
    if "hang" in rule and rule.get("fault") != "hang":
        # The rule's own words ("goes with `fault: hang`") are a mapping's, not a spec's.
        held = f"`hang={rule['hang']}` is how long a `hang` fault holds the request"
        if "fault" in rule:
            raise FaultRuleError(f"{said}: {held}, and this rule's fault is `{rule['fault']}`")
        if "status" in rule:  # the suggestion below would drop it without a word
            route, status, hang = rule["route"], rule["status"], rule["hang"]
            raise FaultRuleError(
                f"{said}: {held}, which answers nothing: a {status} after {hang} is"
                f" {route}:{status}:latency={hang}; a hang, {route}:hang:hang={hang}"
            )
        raise FaultRuleError(
            f"{said}: {held}; give the fault too: {rule['route']}:hang:hang={rule['hang']}"
        )
    return rule


def spec_given(spec: str, given_as: str = "--fault") -> str:
    """How a message names a spec and where it was given: ``--fault `traits:42```, as
    ``words.named`` shows it (a line break or a tab as JSON writes it)."""
    return f"{given_as} {named(spec)}"


def as_mapping(spec: str) -> dict[str, Any] | None:
    """The mapping a ``--fault`` spec stands for (None when it is no spec): what a fixture
    file, which takes a rule's mapping only, writes instead."""
    try:
        return parse_spec(spec)
    except FaultRuleError:
        return None


def _once(said: str, rule: dict[str, Any], key: str) -> None:
    """A FaultRuleError when ``key`` is in ``rule`` already: the second value replaced the
    first without a word (``traits:429:500`` answered 500); ``said`` names the spec."""
    if key in rule:
        raise FaultRuleError(f"{said}: `{key}` is given twice; give it once")


def _as_written(data: Mapping[str, Any]) -> str:
    try:
        return json.dumps(dict(data), ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(dict(data))


def _written_again(
    rules: list[FaultRule], data: Mapping[str, Any], claimed: Collection[str]
) -> FaultRule | None:
    """The one of ``rules`` that ``data`` writes as it was (its id, if it gives one, too),
    taken out of ``rules``; not one whose default id another rule now gives (``claimed``):
    kept, it stood beside that rule under the same id."""
    if not isinstance(data, Mapping):
        return None
    source = {key: value for key, value in data.items() if key != "id"}
    for rule in rules:
        if rule.source != source:
            continue
        if rule.id_given != ("id" in data):  # an id given, or taken away, is a change
            continue
        same_id = str(data["id"]) == rule.id if "id" in data else rule.id not in claimed
        if same_id:
            rules.remove(rule)
            return rule
    return None


class FaultSet:
    """The rules in force, in order, with their seeded random generators."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._rules: list[FaultRule] = []
        self._counter = 0

    def __iter__(self) -> Iterator[FaultRule]:
        return iter(list(self._rules))

    def __len__(self) -> int:
        return len(self._rules)

    def add(
        self,
        data: Mapping[str, Any],
        written: str | None = None,
        origin: str = "runtime",
        spaces: Collection[str] | None = None,
    ) -> FaultRule:
        """Add a rule from its dict form (``written``: the spec it was read from; ``origin``:
        one of ``ORIGINS``; ``spaces``: the spaces served, one of which its ``space`` glob
        must match); returns it (with its id)."""
        # A default id skips those taken (a rule named `fault-2` before the second rule).
        taken = {existing.id for existing in self._rules}
        number = self._counter + 1
        while isinstance(data, Mapping) and "id" not in data and f"fault-{number}" in taken:
            number += 1
        rule = parse_rule(data, f"fault-{number}")
        if spaces is not None:
            matches_one("space", rule.space, spaces, " of the fixtures")
        rule.written = written if written is not None else _as_written(data)
        rule.origin = origin
        if any(existing.id == rule.id for existing in self._rules):
            raise FaultRuleError(
                f"fault rule: a rule with id `{rule.id}` exists already; ids are unique"
            )
        self._counter += 1
        rule.rng = random.Random(f"{self.seed}/{rule.id}")
        self._rules.append(rule)
        return rule

    def replace(
        self, rule_ids: Iterable[str], rules: Sequence[Mapping[str, Any]], origin: str
    ) -> list[str]:
        """Swap the rules ``rule_ids`` (those still here) for ``rules``, which go first;
        the other rules stay as they are, counters and all, and so does each of ``rule_ids``
        written again as it was (a reload of files whose other rules changed renumbered
        every one and started its counters and its random draws again). All or nothing:
        raises FaultRuleError and changes nothing if a new rule is bad. Returns the ids."""
        gone = set(rule_ids)
        kept = [r for r in self._rules if r.id not in gone]
        unchanged = [r for r in self._rules if r.id in gone and r.origin == origin]
        claimed = {str(d["id"]) for d in rules if isinstance(d, Mapping) and "id" in d}
        same = [_written_again(unchanged, data, claimed) for data in rules]
        before, counter = self._rules, self._counter
        # The new rules are checked against these ids, and take none of them by default.
        self._rules = [*kept, *(rule for rule in same if rule is not None)]
        added = []
        try:
            for data, rule in zip(rules, same, strict=True):
                added.append(rule if rule is not None else self.add(data, origin=origin))
        except FaultRuleError:
            self._rules, self._counter = before, counter
            raise
        self._rules = added + kept
        return [rule.id for rule in added]

    def remove(self, rule_id: str) -> bool:
        before = len(self._rules)
        self._rules = [r for r in self._rules if r.id != rule_id]
        return len(self._rules) != before

    def clear(self) -> None:
        self._rules = []
        self._counter = 0

    def pick(
        self, route: str, method: str, space: str, collection: str, identifier: str | None
    ) -> FaultRule | None:
        """The first rule that matches and fires for this request, if any."""
        for index, rule in enumerate(self._rules):
            if not rule.matches(route, method, space, collection, identifier):
                rule.note_near(route, method, space, collection, identifier)
                continue
            if rule.decide():
                for later in self._rules[index + 1 :]:
                    if later.matches(route, method, space, collection, identifier):
                        name = f"`{rule.id}`{ORIGIN_WORDS.get(rule.origin, '')}"
                        later.shadowed[name] = None
                return rule
        return None
