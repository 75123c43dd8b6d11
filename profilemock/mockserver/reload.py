"""Reloading a server's fixture files while it serves: on demand (``POST /__admin/reload``)
or when they change on disk (``serve --watch``, with watchfiles).

The files are read and built off the event loop, into a new store — a file whose content
did not change since the last reload read it is not read again (``loader.Reads``), and the
whole set is checked all the same; only a complete, valid store is swapped in, on the
loop, between requests (``ServerState.replace_data``).
A set with problems leaves the old data serving and says what is wrong, with
``file:line:column``. A file that changed while it was read (an editor saving in place
rather than renaming a new file over it) is read again: what was read of it may be its
first half, which may parse, and would be served without the rest. A reset after a reload
that read the files at another clock than the one it puts back reads the data served
again there (``Reloader.reset``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from profilemock.clock import Clock, Setting
from profilemock.faults import FaultRuleError
from profilemock.fixtures.loader import (
    Reads,
    fixture_files,
    fixture_suffix,
    load_fixtures,
    load_served,
)
from profilemock.mockserver.state import STATE, ServerState
from profilemock.problems import FixtureError, Problem, json_pointer
from profilemock.store.space import Store, counts_text
from profilemock.timeutil import format_ns
from profilemock.words import counted

T = TypeVar("T")
Log = Callable[[str], None]


@dataclass(frozen=True)
class Reloaded:
    """What one reload did: the data now served, or why the old data still is."""

    changed: tuple[str, ...]
    """Files whose change caused it (empty: asked for)."""
    seconds: float
    spaces: int = 0
    users: int = 0
    accounts: int = 0
    problems: tuple[str, ...] = ()
    """Each ``file:line:column: message``; if any, nothing was swapped in."""
    removed: tuple[str, ...] = ()
    """Those of ``changed`` that were removed (a file no longer in a watched directory)."""
    warnings: tuple[str, ...] = ()
    """What the new data serves differently from how it is written (an email in capitals),
    each ``file:line:column: warning: message``, as ``serve`` and ``check`` tell them; and
    each fault rule kept whose ``space`` the new data no longer has."""
    new_warnings: tuple[str, ...] = ()
    """Those of ``warnings`` the load before did not have: what the log line tells (one
    that still stands was told already; a save that keeps it does not tell it again)."""
    at: int | None = None
    """When it ended, by the wall clock (nanoseconds since the epoch): a save's time, not
    the server's clock, which may stand at a date of the fixtures."""

    @property
    def ok(self) -> bool:
        return not self.problems

    def line(self) -> str:
        """The one log line of this reload (plus one line per problem if it failed, or per
        warning if it did not)."""
        kept = [name for name in self.changed if name not in self.removed]
        if not self.changed:
            what = "fixtures (on request)"
        else:
            # A removed file was not reloaded: the rest of the fixtures were.
            what = ", ".join(kept) or "the fixtures"
            if self.removed:
                what += f" ({', '.join(self.removed)} removed)"
        if self.ok:
            head = (
                f"reloaded {what}:"
                f" {counts_text((self.spaces, self.users, self.accounts))}"
                f" in {self.seconds:.2f} s"
            )
            standing, new = len(self.warnings), len(self.new_warnings)
            if new == standing and new:
                head += f"; {counted(new, 'warning')}:"
            elif new:
                head += f"; {counted(standing, 'warning')} still stand, {new} of them new:"
            elif standing:
                head += f"; {counted(standing, 'warning')} still"
                head += " stands" if standing == 1 else " stand"
                head += " (told before)"
            return "\n".join([head, *(f"  {w}" for w in self.new_warnings)])
        count = len(self.problems)
        head = (
            f"reload of {what} failed, still serving the previous data: {counted(count, 'problem')}"
        )
        return "\n".join([head, *(f"  {p}" for p in self.problems)])

    def as_dict(self) -> dict[str, Any]:
        """What ``POST /__admin/reload`` answers and ``GET /__admin/health`` tells of the
        last reload; the counts of one that failed are null (nothing was loaded, and the
        previous data, whatever it counts, is still served)."""
        spaces, users, accounts = (
            (self.spaces, self.users, self.accounts) if self.ok else (None, None, None)
        )
        return {
            "reloaded": self.ok,
            "at": None if self.at is None else format_ns(self.at),
            "changed": list(self.changed),
            "spaces": spaces,
            "users": users,
            "accounts": accounts,
            "seconds": round(self.seconds, 3),
            "problems": list(self.problems),
            "warnings": list(self.warnings),
        }


@dataclass
class Reloader:
    """Reloads ``paths`` into a server's state; one reload at a time."""

    paths: Sequence[str | Path]
    swap: Callable[[Store, Setting], Mapping[str, str]]
    """Puts a new store in service, its relative times read at the clock set as given
    (``ServerState.replace_data``), on the loop; returns the warnings it has of what it
    kept (a fault rule whose space is gone), each by what it is of (the rule: what tells
    it told before)."""
    clock: Clock
    log: Log | None = None
    on_reload: list[Callable[[Reloaded], None]] = field(default_factory=list)
    """Called after each reload, good or bad (tests wait on it)."""
    pinned_at: int | None = None
    """Where the files' ``now:`` pinned the date at the last load (``Store.now``)."""
    now_written: str | None = None
    """That ``now:`` as written (``Store.now_written``): what tells a changed one."""
    now_given: bool = False
    """The date was given before the files were read (``ServerSettings.now_given``): their
    ``now:`` never pinned it, and the clock follows no change of it."""
    told: frozenset[str] = frozenset()
    """The warnings of the last load that was served (``_told``): a reload tells only
    those it does not have."""
    reads: Reads = field(default_factory=Reads)
    """The files as the reloads read them: one whose content did not change since is not
    read again (a 100,000-profile file beside the 50-profile one edited)."""
    wall: Callable[[], int] = time.time_ns
    """The wall clock a reload's ``at`` is read from."""
    unwatched: str | None = None
    """Why ``--watch`` stopped (the system refused a watch), if it did: the log told it,
    ``GET /__admin/health`` tells it (``watch_stopped``), and the banner says no more
    that saves are served."""
    last: Reloaded | None = None
    """The last reload's result, good or bad (``GET /__admin/health`` tells it: with
    ``--watch`` a save the server could not use is otherwise told on stderr only)."""
    _lock: asyncio.Lock | None = None

    async def reload(self, changed: Iterable[str] = (), removed: Iterable[str] = ()) -> Reloaded:
        async with self._one_at_a_time():
            result = await self._reload(tuple(changed))
            result = replace(result, removed=tuple(removed), at=self.wall())
            self.last = result
        if self.log is not None:
            self.log(result.line())
        for callback in self.on_reload:
            callback(result)
        return result

    def _one_at_a_time(self) -> asyncio.Lock:
        """Held by a reload, and by a reset reading the data served again."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    async def _reload(self, changed: tuple[str, ...]) -> Reloaded:
        started = time.perf_counter()
        # Relative times read against the server's clock as it stands, without the load
        # touching the clock from another thread.
        clock = self.clock.copy()
        # A clock standing where the files' `now:` pinned it follows them to another one.
        follows = not self.now_given and self.clock.pinned and self.clock.now_ns() == self.pinned_at
        served = False
        try:
            store = await _off_loop(lambda: _load_still(self.paths, clock, self.reads))
            new_now = store.now_written != self.now_written
            if follows and new_now and store.now_written is not None:
                clock.set_offset(0)  # the files read against their new `now:`, as at a start
                store = await _off_loop(lambda: _load_still(self.paths, clock, self.reads))
            kept = dict(self.swap(store, clock.snapshot()))
            served = True
        except FixtureError as exc:
            return Reloaded(changed, time.perf_counter() - started, problems=_texts(exc.problems))
        except FaultRuleError as exc:
            return Reloaded(changed, time.perf_counter() - started, problems=(str(exc),))
        finally:
            self.reads.settle(served=served)
        if new_now:
            # A `now:` added to the files, or changed, pins the date there (a clock frozen
            # or pinned otherwise stays as it is, as at a start); one already in force leaves
            # the clock as it stands (set running since, it stays running).
            self.pinned_at, self.now_written = store.now, store.now_written
            if clock.frozen and (follows or not self.clock.frozen):
                self.clock.restore(clock.snapshot())
        warnings = (*(w.as_warning() for w in store.warnings), *kept.values())
        told = _told(store.warnings, kept)
        new = tuple(w for w, key in zip(warnings, told, strict=True) if key not in self.told)
        self.told = frozenset(told)
        seconds = time.perf_counter() - started
        return Reloaded(
            changed,
            seconds,
            *store.counts(),
            warnings=warnings,
            new_warnings=new,
        )

    async def reset(self, state: ServerState) -> ReadAgain | None:
        """``state.reset()``; when the data served was read by a reload at another clock
        than the one a reset puts back (``ServerState.read_again_at``), read again there
        first, from the documents that reload kept (``loader.load_served``: a check and a
        shift, off the loop), as a start at that clock reads the files — the files as they
        are now are not read: a reset does not reload. If it does not load there (a
        relative time within the years 1000 to 9999 at one clock and not at the other),
        nothing is reset, and the answer says why (None: nothing to read again)."""
        async with self._one_at_a_time():  # no reload swaps another store in meanwhile
            setting = state.read_again_at()
            if setting is None:
                state.reset()
                return None
            started = time.perf_counter()
            clock = self.clock.copy()
            clock.restore(setting)
            at = format_ns(clock.now_ns())
            try:
                store = await _off_loop(lambda: load_served(clock, self.reads))
            except FixtureError as exc:
                result = ReadAgain(at, time.perf_counter() - started, _texts(exc.problems))
            else:
                state.reset(store)
                result = ReadAgain(at, time.perf_counter() - started)
        if self.log is not None:
            self.log(result.line())
        return result


@dataclass(frozen=True)
class ReadAgain:
    """What a reset did with data a reload read at another clock than the one it puts
    back: read it again there, or why not (then nothing was reset)."""

    at: str
    """The clock put back (as the server started, or where a `now:` changed since pins
    it), as a timestamp."""
    seconds: float
    problems: tuple[str, ...] = ()
    """Each ``file:line:column: message``; if any, nothing was reset."""

    @property
    def ok(self) -> bool:
        return not self.problems

    def line(self) -> str:
        """The log line (plus one line per problem), and the admin API's message."""
        what = "the fixtures served, read by a reload at another date,"
        if self.ok:
            return (
                f"reset: {what} read again at the clock as started ({self.at})"
                f" in {self.seconds:.2f} s"
            )
        head = (
            f"reset failed, nothing was reset: {what} do not load at the clock as started"
            f" ({self.at}) (mend the files and reload, then reset):"
            f" {counted(len(self.problems), 'problem')}"
        )
        return "\n".join([head, *(f"  {p}" for p in self.problems)])


READS = 5
"""Reads of files that change each time they are read before a reload gives up on them."""


def _load_still(paths: Sequence[str | Path], clock: Clock, reads: Reads | None = None) -> Store:
    """``load_fixtures(paths, clock, reads=reads)`` from files that stood still while they
    were read: read again while one changed meanwhile (its size, time or inode), up to
    ``READS`` times; a problem for each file that never stood still."""
    changed: list[tuple[str, tuple[int, ...]]] = []
    for _ in range(READS):
        before = _standing(paths)
        try:
            store = load_fixtures(paths, clock, reads=reads)
        except (FixtureError, FaultRuleError):
            after = _standing(paths)
            if after == before:
                raise
        else:
            after = _standing(paths)
            if after == before:
                return store
        # What was read may be a half-written file, its problems (or its lack of them) too.
        changed = sorted(set(before.items()) ^ set(after.items()))
    names = dict.fromkeys(name for name, _ in changed) or [str(p) for p in paths]
    why = (
        f"changed as it was read, {READS} times running (written in place, and still being"
        " written?); its next save reloads it"
    )
    raise FixtureError(Problem(name, None, None, (), why) for name in names)


def _standing(paths: Sequence[str | Path]) -> dict[str, tuple[int, ...]]:
    """Each fixture file of ``paths`` as it stands: its size, times and inode (none when
    they cannot be listed: the load says why)."""
    standing: dict[str, tuple[int, ...]] = {}
    with contextlib.suppress(FixtureError, OSError):
        for file in fixture_files(paths):
            with contextlib.suppress(OSError):  # gone meanwhile: another change to see
                found = file.stat()
                standing[str(file)] = (
                    found.st_size,
                    found.st_mtime_ns,
                    found.st_ctime_ns,
                    found.st_ino,
                )
    return standing


def _told(warnings: Iterable[Problem], kept: Mapping[str, str]) -> tuple[str, ...]:
    """What tells a warning from another, each of the load's ``warnings`` then ``kept``:
    its file, place in the data and words, not its line (a line added above it moves it,
    and it is the same warning); a kept rule's, the rule (its words name the spaces there
    are, and a space added or removed elsewhere leaves it the same warning)."""
    return (*(f"{w.source}\0{json_pointer(w.path)}\0{w.message}" for w in warnings), *kept)


def _texts(problems: Iterable[Problem]) -> tuple[str, ...]:
    return tuple(str(p) for p in problems)


async def _off_loop(work: Callable[[], T]) -> T:
    """``work()`` in a daemon thread: the loop keeps answering meanwhile, and a server
    stopped mid-load exits without waiting for the load to end."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def settle(outcome: Callable[[], None]) -> None:
        if not done.done():
            outcome()

    def run() -> None:
        try:
            result = work()
        except BaseException as exc:
            failure = exc
            loop.call_soon_threadsafe(settle, lambda: done.set_exception(failure))
        else:
            loop.call_soon_threadsafe(settle, lambda: done.set_result(result))

    threading.Thread(target=run, name="profilemock reload", daemon=True).start()
    return await done


# -- watching -----------------------------------------------------------------------------


def watched(paths: Sequence[str | Path]) -> tuple[list[Path], Counts]:
    """The directories to watch and which changed paths count: the fixture files given,
    and fixture files (``*.yaml``, ``*.yml``, ``*.json``, not hidden) under the
    directories given. Files are watched through their directory, so editors that save
    by writing a new file and renaming it over the old one are seen too: the directory
    alone, not what is under it, when only files are given (``--fixtures profiles.yaml``
    in a project, beside its ``node_modules``: a watch for each of its directories used
    the system's watches up, and watched every install and build); with a directory given,
    recursively (``Counts.recursive``)."""
    files: set[Path] = set()
    trees: list[Path] = []
    roots: set[Path] = set()
    for given in paths:
        path = Path(given).resolve()
        if path.is_dir():
            trees.append(path)
            roots.add(path)
        else:
            files.add(path)
            roots.add(path.parent)
    if not trees:
        return sorted(roots), Counts(files, trees)
    # A directory inside another watched one needs no watch of its own.
    top = sorted(r for r in roots if not any(r != o and r.is_relative_to(o) for o in roots))
    return top, Counts(files, trees)


class Counts:
    """Whether a changed path counts: a fixture file given, a fixture file under a
    directory given, or a directory there renamed, moved or copied in or out (``mv
    fixtures/v1 fixtures/old``, ``cp -r``), which is a change of the directory alone (its
    files move with it; those copied in may be written before its watch is set up): one
    that holds fixture files and did not when last looked at (``look``), or is gone and
    held some then. One still there as it was (its mode changed) does not count."""

    def __init__(self, files: set[Path], trees: list[Path]) -> None:
        self._files, self._trees = files, trees
        self.recursive = bool(trees)
        """Whether the directories are watched with what is under them (one was given)."""
        self._held: set[Path] = set()
        self.look()

    def look(self) -> None:
        """Note the directories that hold fixture files now (after a reload: one of them
        gone with the next change is one that held some)."""
        self._held = {parent for file in _fixtures_in(self._trees) for parent in file.parents}

    def __call__(self, changed: str) -> bool:
        # Not resolved to go by: a symbolic link counts by its own name and place (the
        # file it points to may be anywhere, or missing).
        path = Path(changed)
        if path.resolve() in self._files:
            return True
        if path.name.startswith(".") or not any(path.is_relative_to(t) for t in self._trees):
            return False
        if fixture_suffix(path):
            return True
        if path in self._held:
            return not path.is_dir()
        return path.is_dir() and bool(_fixtures_in([path]))


def _fixtures_in(directories: Iterable[Path]) -> list[Path]:
    """The fixture files under ``directories`` (none of one that is gone or holds none)."""
    found: list[Path] = []
    for directory in directories:
        with contextlib.suppress(FixtureError, OSError):
            found.extend(fixture_files([directory]))
    return found


async def watch(reloader: Reloader, stop: asyncio.Event | None = None) -> None:
    """Reload whenever the fixture files change, until ``stop`` is set or cancelled.

    A watched directory removed (``rm -rf fixtures``) takes its watch with it: where it
    was is watched until it is back, then what it holds is served and watched again. A
    symbolic link on the way pointed elsewhere (``ln -sfn release-2 current``), which no
    watch sees, is found within a second, and where it points now served and watched.

    A watch the system refuses (its limit of watches reached) is told on the log and in
    ``Reloader.unwatched``, saying what to do, and the fixtures are served as they are: it
    watched nothing without a word, and the server stopping then said it could not write
    its output."""
    try:
        await _watch(reloader, stop)
    except OSError as exc:
        reloader.unwatched = _unwatched(exc)
        if reloader.log is not None:
            reloader.log(reloader.unwatched)


def _unwatched(exc: OSError) -> str:
    """What the log says of a watch the system refused."""
    line = (
        f"--watch stopped: {exc}; saved changes are not served now (POST /__admin/reload,"
        " or the explorer's Reload fixtures, reloads them; restart to watch again)"
    )
    if "watch limit" in str(exc):
        line += (
            "; on Linux, raise the limit of watches (sudo sysctl"
            " fs.inotify.max_user_watches=524288), or serve with WATCHFILES_FORCE_POLLING=1 in"
            " the environment (it needs no watch: it looks at the files every 0.3 s)"
        )
    return line


async def _watch(reloader: Reloader, stop: asyncio.Event | None) -> None:
    from watchfiles import Change  # imported when watching: the plugin never needs it

    roots, counts = watched(reloader.paths)
    targets = _targets(reloader.paths)
    base = Path.cwd()
    back: list[Path] = []
    held: set[asyncio.Task[Reloaded]] = set()  # a task the loop keeps no hold on

    def moved() -> bool:
        return _targets(reloader.paths) != targets

    while await _until_back(roots, stop, moved):
        if moved():
            # Watched where the links point now (its old target gone meanwhile, maybe).
            roots, counts = watched(reloader.paths)
            targets = _targets(reloader.paths)
            back = roots
            continue
        changes = _each_second(
            roots, _seen(roots, counts), stop, debounce=400, recursive=counts.recursive
        )
        if back:
            # What the directory holds now, written before its watch was set up too: read
            # once the loop turns, after the first step below has set the watch up.
            returned = [_shown(root, base) for root in back]
            reloading = asyncio.get_running_loop().create_task(reloader.reload(returned))
            held.add(reloading)
            reloading.add_done_callback(held.discard)
        back = []
        try:
            async for found in changes:
                if not found:  # a second without a change
                    if moved():
                        back = roots  # not stopped: watched where the links point now, above
                        break
                    continue
                names = sorted({_shown(Path(p), base) for _, p in found if Path(p) not in roots})
                gone = sorted({_shown(Path(p), base) for _, p in found if not os.path.lexists(p)})
                back = [root for root in roots if (Change.deleted, str(root)) in found]
                if names or gone:
                    await reloader.reload(names, gone)
                    counts.look()
                if back:
                    break  # watched again, once back
        except FileNotFoundError:
            if all(root.is_dir() for root in roots):
                raise
            back = roots  # one removed as its watch was set up: watched again, once back
        await changes.aclose()
        if not back:
            return  # stopped


def _each_second(
    paths: Iterable[Path],
    wanted: Callable[[Any, str], bool],
    stop: asyncio.Event | None,
    *,
    debounce: int,
    recursive: bool = False,
) -> AsyncGenerator[set[tuple[Any, str]], None]:
    """The changes under ``paths`` that ``wanted``, and an empty set after each second
    without one: what no watch sees (a link pointed elsewhere, a directory made as the
    watch was set up) is looked for then."""
    from watchfiles import awatch

    return awatch(
        *paths,
        watch_filter=wanted,
        stop_event=stop,
        debounce=debounce,
        step=50,
        rust_timeout=1000,
        yield_on_timeout=True,
        recursive=recursive,
    )


def _seen(roots: list[Path], counts: Callable[[str], bool]) -> Callable[[Any, str], bool]:
    """The changes that count: to fixture files (``counts``), and a root's own removal
    (its files may be gone from the batch)."""
    return lambda _change, path: counts(path) or Path(path) in roots


def _targets(paths: Sequence[str | Path]) -> list[Path]:
    """Where ``paths`` lead, symbolic links followed."""
    return [Path(path).resolve() for path in paths]


async def _next(changes: AsyncIterator[T]) -> T | None:
    """The next item of ``changes``; None once they end."""
    return await anext(changes, None)


async def _until_back(
    roots: Iterable[Path], stop: asyncio.Event | None, moved: Callable[[], bool]
) -> bool:
    """Whether every directory of ``roots`` is there, once it is, or a symbolic link on
    the way ``moved()`` elsewhere (False: stopped first). A missing one is waited for by
    watching the nearest directory above it that is there, looking again at least every
    second (a directory made as the watch was set up, a link pointed elsewhere)."""
    while (missing := [root for root in roots if not root.is_dir()]) and not moved():
        above = missing[0].parent
        while not above.is_dir():
            above = above.parent
        changes = _each_second(
            [above], lambda _change, path: missing[0].is_relative_to(path), stop, debounce=50
        )
        found = await _next(changes)
        await changes.aclose()
        if found is None:
            return False
    return True


def _shown(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


RELOADER = web.AppKey("profilemock_reloader", Reloader)


def enable_reload(
    app: web.Application,
    paths: Sequence[str | Path],
    *,
    watch_files: bool = False,
    log: Log | None = None,
) -> Reloader:
    """Let ``app`` reload ``paths``: ``POST /__admin/reload``, and with ``watch_files``
    whenever they change on disk, from the moment the server starts."""
    state = app[STATE]
    reloader = Reloader(
        paths,
        state.replace_data,
        state.clock,
        log,
        pinned_at=state.store.loaded.now,
        now_written=state.store.loaded.now_written,
        now_given=state.settings.now_given,
        told=frozenset(_told(state.store.loaded.warnings, state.stranded())),
    )
    app[RELOADER] = reloader
    if watch_files:

        async def watching(app: web.Application) -> Any:
            stop = asyncio.Event()
            task = asyncio.get_running_loop().create_task(watch(reloader, stop))
            # One turn of the loop lets the task set its watches up (synchronously, in its
            # first step), so a change saved once the server is up is never missed.
            await asyncio.sleep(0)
            yield
            stop.set()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        app.cleanup_ctx.append(watching)
    return reloader
