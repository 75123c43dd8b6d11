"""Everything one server reads and changes while it runs, and how it goes back to the start."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

from profilemock.clock import Clock, Setting
from profilemock.faults import ORIGIN_WORDS, FaultRule, FaultRuleError, FaultSet, matches_one
from profilemock.mockserver.journal import DEFAULT_SIZE, Journal, JournalEntry
from profilemock.mockserver.params import Queries
from profilemock.mockserver.ratelimit import RateLimiter
from profilemock.realism import Realism
from profilemock.store.overlay import LiveStore
from profilemock.store.space import Limit, Store


@dataclass(frozen=True)
class ServerSettings:
    """How a server behaves beyond its data."""

    seed: int = 0
    """Seeds fault randomness: the same seed and requests give the same faults."""
    faults: Sequence[Mapping[str, Any]] = ()
    """Fault rules in force from the start (``--fault``), after the fixtures' own."""
    rate_limit: Limit | Literal["fixtures"] | None = "fixtures"
    """One limit for every space (None: unlimited), or each space's from its fixture."""
    journal_size: int = DEFAULT_SIZE
    admin: bool = True
    admin_token: str | None = None
    check_contract: bool = False
    """Validate every answer against the response schemas (strict); a violation is a 500."""
    cors: bool = False
    """Answer browsers' CORS preflights: the Profile API to any origin (the real API does
    not), the admin API to loopback origins and ``cors_origins``."""
    cors_origins: tuple[str, ...] = ()
    """Origins (``https://app.example:8443``) besides loopback ones whose pages may call the
    admin API when ``cors`` is on."""
    allowed_hosts: tuple[str, ...] = ()
    """``Host`` names the admin API answers to besides IP addresses and localhost (``*``:
    any; a DNS name is how DNS rebinding reaches a local server)."""
    realism: Mapping[str, Any] = field(default_factory=dict)
    """Realism switches in force from the start (``--realism``), over the fixtures' own."""
    now_given: bool = False
    """The date was pinned before the fixtures were read (``--now``): their ``now:`` moves
    neither the clock nor the clock a reset goes back to when a reload changes it — not
    even one that was the date given (which looked like a clock the files had pinned)."""


@dataclass
class ServerState:
    """The data (loaded plus runtime changes), clock, limiter, faults and journal."""

    store: LiveStore
    clock: Clock
    settings: ServerSettings
    limiter: RateLimiter
    faults: FaultSet
    journal: Journal
    errors: list[BaseException] = field(default_factory=list)
    """Unexpected exceptions raised while answering (the pytest plugin re-raises them)."""
    check_contract: bool = False
    """Validate every answer against the response schemas (strict)."""
    next_request_id: Callable[[], str] = str
    """Makes the ``Request-Id`` of each answer (set by ``create_app``)."""
    queries: Queries = field(default_factory=Queries)
    """Query strings parsed before (they depend on the string alone: never reset)."""
    realism: Realism = field(default_factory=Realism)
    """The realism switches in force (``set_realism`` changes them)."""
    _realism_configured: Realism = field(default_factory=Realism)
    """The switches of the fixture files (as last loaded) and ``--realism``."""
    _clock_at_start: Setting = (None, 0, False)
    """The clock a reset puts back: as the server started, or where a `now:` changed in
    the files since pins it, as at a start (``replace_data``)."""
    _read_at: Setting = (None, 0, False)
    """The clock the loaded data's relative times were read at (``read_again_at``)."""
    unfired: dict[tuple[str, str, str], int] = field(default_factory=dict)
    """Rules armed at run time that a reset took away before they did what they were armed
    for — ``(id, as written, why)``, with how many resets did so — as ``assert_faults_fired``
    reports them (and then forgets them). Not optional ones. At most ``MAX_UNFIRED``."""
    errors_before_reset: list[JournalEntry] = field(default_factory=list)
    """Requests that count as errors (``journal.counts_as_error``) which a reset took from
    the journal before any ``assert_no_errors`` judged them: a test that resets (a
    Hypothesis example each) still answers for them; a new test forgets them. At most
    ``MAX_KEPT_ERRORS`` of each status; of any more, how many (``errors_not_kept``), and
    how many requests the journal had dropped unread before a reset
    (``dropped_before_reset``: errors among them unseen)."""
    errors_not_kept: dict[int | None, int] = field(default_factory=dict)
    dropped_before_reset: int = 0
    judged_through: int = 0
    """The ``seq`` of the last request an ``assert_no_errors`` judged: a reset keeps no
    error it judged already (with the ``allow=`` of the moment it was judged)."""
    marker_rules: set[str] = field(default_factory=set)
    """Ids of the rules a test's marker armed: each ``reset()`` of the test arms them again
    (a Hypothesis example each starts from the fixtures and the marker), and they are
    judged as one rule across its resets: fired when any example's copy fired
    (``marker_fired``)."""
    marker_fired: set[str] = field(default_factory=set)
    reported: set[str] = field(default_factory=set)
    """Ids of rules armed since the last reset that ``assert_faults_fired`` named already:
    a reset does not keep them for it to name again."""
    resets: int = 0
    """How many resets there were, however made (the handle, ``POST /__admin/reset``): a
    test handle tells by it that a Hypothesis example began from the fixtures."""
    _fixture_rules: list[str] = field(default_factory=list)
    """Ids of the rules that came from the fixture files (a reload replaces them)."""
    _released: asyncio.Event | None = None

    @classmethod
    def create(cls, store: Store, clock: Clock, settings: ServerSettings) -> ServerState:
        state = cls(
            store=LiveStore(store),
            clock=clock,
            settings=settings,
            limiter=RateLimiter(clock, _limits(store, settings)),
            faults=FaultSet(settings.seed),
            journal=Journal(settings.journal_size),
            _clock_at_start=clock.snapshot(),
            _read_at=clock.snapshot(),
        )
        state._load_faults()
        state._realism_configured = _configured_realism(store, settings)
        state._use_realism(state._realism_configured)
        return state

    def set_realism(self, switches: Mapping[str, Any]) -> Realism:
        """Change the named realism switches (RealismError names a bad one); a reset goes
        back to those of the fixtures and ``--realism``."""
        self._use_realism(self.realism.changed(switches))
        return self.realism

    def _use_realism(self, realism: Realism) -> None:
        self.realism = realism
        for space in self.store.spaces.values():
            space.propagate_after(realism.propagation_delay, self.clock.ticks_ns)

    def _load_faults(self) -> None:
        self._fixture_rules = [
            self.faults.add(rule, origin="fixtures").id for rule in self.store.loaded.faults
        ]
        for rule in self.settings.faults:
            self.faults.add(rule, origin="settings")

    def add_fault(self, data: Mapping[str, Any], written: str | None = None) -> FaultRule:
        """Arm a rule at run time (a test through the handle or the marker, the admin API):
        one whose ``space`` matches no space served is refused (FaultRuleError), as it could
        never fire. A server of no space is the proxy (fixtures define one at least)."""
        if not self.store.spaces:
            raise FaultRuleError(
                "fault rule: the proxy injects no faults; it forwards every request as it is"
                " (fault rules are the fake's: profilemock serve)"
            )
        return self.faults.add(data, written, spaces=list(self.store.spaces))

    def armed_since_reset(self) -> list[FaultRule]:
        """The fault rules added since the last reset (by a test, through the handle or
        the admin API), not the standing ones of the fixtures and ``--fault``."""
        return [rule for rule in self.faults if rule.origin == "runtime"]

    def replace_data(self, store: Store, read_at: Setting | None = None) -> dict[str, str]:
        """Serve ``store`` from the next request on (fixtures reloaded; its relative times
        read at the clock set as ``read_at``, by default the clock as it stands); returns a
        warning for each rule kept whose ``space`` now matches no space, by the rule
        (``stranded``).

        Runtime changes to the data go with the old data. Fault rules stay, counters and
        all, except that the fixtures' own rules follow the files when those changed; rate
        limits and realism switches follow the files except where changed at run time; the
        journal and the clock are untouched. A `now:` added or changed in the files pins
        the clock a reset goes back to there, as at a start, unless that clock stood still
        otherwise (``--now``: a clock the files' `now:` pinned follows it). Call it on the
        server's loop: a request being answered keeps the data it started with.
        """
        if tuple(store.faults) != tuple(self.store.loaded.faults):
            self._fixture_rules = self.faults.replace(self._fixture_rules, store.faults, "fixtures")
        if store.now is not None and store.now_written != self.store.loaded.now_written:
            at, offset, pinned = self._clock_at_start
            if at is None or (
                pinned and at == self.store.loaded.now and not self.settings.now_given
            ):
                self._clock_at_start = (store.now, offset, True)
        self._read_at = self.clock.snapshot() if read_at is None else read_at
        self.store = LiveStore(store)
        # The files' switches follow them, except those changed at run time since.
        configured = _configured_realism(store, self.settings)
        self._use_realism(self.realism.rebased(self._realism_configured, configured))
        self._realism_configured = configured
        self.limiter.reload(_limits(store, self.settings))
        return self.stranded()

    def stranded(self) -> dict[str, str]:
        """A warning for each rule whose ``space`` glob matches no space served: one that
        was armed (or given with ``--fault``) when it did, its space gone with a reload. It
        is kept — it matches again if the space comes back — but said, as a rule that
        matches no space is refused when it is armed. Each is keyed by its rule (its id
        and its words as given): the warning's words name the spaces there are now, and
        the same rule stranded is the same warning whatever they are (told once)."""
        spaces = list(self.store.spaces)
        warnings = {}
        for rule in self.faults:
            try:
                matches_one("space", rule.space, spaces, " of the fixtures")
            except FaultRuleError as exc:
                warnings[f"fault rule\0{rule.id}\0{rule.written}"] = (
                    f"warning: fault rule `{rule.id}`{ORIGIN_WORDS.get(rule.origin, '')}"
                    f" ({rule.written}) is kept but matches no request now: {exc.reason};"
                    " it matches again if the space comes back"
                )
        return warnings

    def read_again_at(self) -> Setting | None:
        """The clock a reset puts back, when the loaded data was read at another (a reload
        after the clock moved): a reset serves it read again there (``reset``'s ``loaded``,
        ``Reloader.reset``), as a start at that clock reads the files. None when it was
        read there (no reload since the start, or one at that clock): a reset is O(1)."""
        return None if _read_alike(self._read_at, self._clock_at_start) else self._clock_at_start

    def reset(self, loaded: Store | None = None) -> None:
        """Back to the start: loaded data, configured faults with fresh counters, an empty
        journal, full rate-limit buckets, the clock as it was, hanging requests released.
        The rules armed since the last reset that never fired are kept in ``unfired``: a
        test that resets (a Hypothesis example each) still answers for them, as it does for
        the requests that count as errors (``errors_before_reset``).

        ``loaded``: the loaded data read again at the clock put back (``read_again_at``),
        served from now on."""
        self._keep_unfired()
        self.reported.clear()
        if loaded is None:
            self.store.reset()
        else:
            self.store = LiveStore(loaded)
            self._read_at = self._clock_at_start
        self._use_realism(self._realism_configured)
        self.faults.clear()
        self._load_faults()
        self.clear_journal()
        self.limiter.reset()
        self.clock.restore(self._clock_at_start)
        self.release_hangs()
        self.resets += 1

    def _keep_unfired(self) -> None:
        for rule in self.armed_since_reset():
            if rule.id in self.marker_rules:  # armed again after the reset: judged at the end
                if rule.unused() is None:
                    self.marker_fired.add(rule.id)
                continue
            self._keep(rule)

    def remove_fault(self, rule_id: str) -> bool:
        """Remove a rule (``DELETE /__admin/faults/{id}``); False when there is none. One a
        test armed that never fired is kept in ``unfired``, as a reset keeps it: removing
        it (the outage healed) does not hide that the code never met it."""
        for rule in self.faults:
            if rule.id == rule_id:
                self._keep(rule, removed=True)
        return self.faults.remove(rule_id)

    def clear_faults(self) -> int:
        """Remove every rule (``DELETE /__admin/faults``), keeping the unfired ones a test
        armed as ``remove_fault`` does; returns how many there were."""
        rules = list(self.faults)
        for rule in rules:
            self._keep(rule, removed=True)
        self.faults.clear()
        return len(rules)

    def _keep(self, rule: FaultRule, *, removed: bool = False) -> None:
        """Keep a rule a test armed that a reset (or, ``removed``, the admin API) takes away
        before it did what it was armed for, for ``assert_faults_fired``: with how many
        resets took it (a removed one: none)."""
        if rule.origin != "runtime" or rule.optional or rule.id in self.reported:
            return
        why = rule.unused()
        if why is None:
            return
        key = (rule.id, rule.written, f"{why}; removed before it fired" if removed else why)
        if key in self.unfired or len(self.unfired) < MAX_UNFIRED:
            self.unfired[key] = self.unfired.get(key, 0) + (0 if removed else 1)

    def clear_journal(self) -> None:
        """Empty the journal (a reset, ``DELETE /__admin/requests``), keeping the requests
        that count as errors for ``assert_no_errors`` (``errors_before_reset``)."""
        self._keep_errors()
        self.journal.clear()

    def _keep_errors(self) -> None:
        kept, counts = self.errors_before_reset, self.errors_not_kept
        statuses = Counter(entry.status for entry in kept)
        for entry in self.journal.errors(after=self.judged_through):
            if statuses[entry.status] < MAX_KEPT_ERRORS:
                statuses[entry.status] += 1
                kept.append(entry)
            else:
                counts[entry.status] = counts.get(entry.status, 0) + 1
        self.dropped_before_reset += self.journal.dropped

    def forget_before_reset(self) -> None:
        """A new test begins: it does not answer for what the tests before it left."""
        self.unfired.clear()
        self.marker_rules.clear()
        self.marker_fired.clear()
        self.errors_before_reset.clear()
        self.errors_not_kept.clear()
        self.dropped_before_reset = 0

    async def hang(self, seconds: float) -> bool:
        """Wait ``seconds``, or until the next reset or shutdown; True if ended by one."""
        if self._released is None:
            self._released = asyncio.Event()
        released = self._released
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(released.wait(), seconds)
        return released.is_set()

    def release_hangs(self) -> None:
        if self._released is not None:
            self._released.set()
            self._released = None


MAX_KEPT_ERRORS = 1_000
"""How many erroneous requests of one status a server keeps across resets, each as it was
journaled (of more, only how many)."""

MAX_UNFIRED = 100
"""How many distinct unfired rules a server keeps across resets (one that nobody asks
about, such as ``serve`` reset through its admin API, keeps no more)."""


STATE = web.AppKey("profilemock_state", ServerState)
"""Where an application keeps its server's state (the admin sub-application reads it too)."""


def _read_alike(one: Setting, other: Setting) -> bool:
    """Whether relative times read at a clock set as ``one`` are as read at ``other``:
    both dates stand at one instant, or both run at one offset from real time (read at a
    running clock, they are as old as the read, whenever it was)."""
    (at, offset, _), (other_at, other_offset, _) = one, other
    if at is None and other_at is None:
        return offset == other_offset
    return at == other_at


def _limits(store: Store, settings: ServerSettings) -> dict[str, Limit | None]:
    """Each space's rate limit: ``--rate-limit`` for all, else the space's own."""
    return {
        space.id: space.rate_limit if settings.rate_limit == "fixtures" else settings.rate_limit
        for space in store.spaces.values()
    }


def _configured_realism(store: Store, settings: ServerSettings) -> Realism:
    """The switches of the fixture files, ``--realism``'s over them."""
    return Realism().changed(store.realism).changed(settings.realism)
