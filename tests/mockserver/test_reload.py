"""Reloading fixtures while serving: ``POST /__admin/reload`` and ``serve --watch``."""

from __future__ import annotations

import asyncio
import gc
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from profilemock.clock import Clock, Setting
from profilemock.faults import parse_spec
from profilemock.fixtures.loader import load_fixtures
from profilemock.fixtures.source import Document
from profilemock.mockserver import reload as reload_module
from profilemock.mockserver.app import STATE, create_app
from profilemock.mockserver.reload import RELOADER, Reloaded, Reloader, enable_reload, watched
from profilemock.mockserver.state import ServerSettings
from profilemock.store.space import Store
from profilemock.timeutil import DAY_NS, parse_timestamp
from tests.conftest import NOW, Client, ClientFactory, basic

AUTH = basic("t")
TRAITS = "/v1/spaces/sp/collections/users/profiles/user_id:{}/traits"


def fixture(plan: str = "free", *, more: str = "", faults: str = "") -> str:
    return (
        "spaces:\n  sp:\n    tokens: [t]\n    rate_limit: 50\n    users:\n"
        f"      - ids: {{user_id: u1}}\n        traits: {{plan: {plan}}}\n{more}{faults}"
    )


class Served:
    """A server on the fixture file ``path``, with a log of its reload lines."""

    def __init__(self, client: Client, app: web.Application, path: Path) -> None:
        self.client, self.app, self.path = client, app, path
        self.lines: list[str] = []
        self.reloads: asyncio.Queue[Reloaded] = asyncio.Queue()

    async def plan(self, user: str = "u1") -> Any:
        response = await self.client.get(TRAITS.format(user), headers=AUTH)
        if response.status != 200:
            return response.status
        return (await response.json())["traits"].get("plan")

    async def next_reload(self) -> Reloaded:
        return await asyncio.wait_for(self.reloads.get(), 30)

    def save(self, text: str) -> None:
        """Save as an editor would: write a new file and rename it over the old one."""
        temporary = self.path.with_name(f".{self.path.name}.swp")
        temporary.write_text(text)
        temporary.replace(self.path)


Start = Callable[..., Any]


@pytest.fixture
def start(aiohttp_client: ClientFactory, tmp_path: Path) -> Start:
    async def start(text: str = fixture(), *, watch: bool = False, **settings: Any) -> Served:
        path = tmp_path / "fixtures" / "users.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
        clock = Clock(NOW)
        app = create_app(load_fixtures([path], clock), clock, ServerSettings(**settings))
        served: Served
        lines: list[str] = []  # the log of the start too (a watch refused)
        reloader = enable_reload(app, [path.parent], watch_files=watch, log=lines.append)
        reloader.on_reload.append(lambda result: served.reloads.put_nowait(result))
        served = Served(await aiohttp_client(app), app, path)
        served.lines = lines
        return served

    return start


async def test_reload_on_request_serves_the_saved_file(start: Start) -> None:
    served = await start()
    served.path.write_text(fixture("pro"))
    response = await served.client.post("/__admin/reload")
    body = await response.json()
    assert response.status == 200
    assert body["reloaded"] is True
    assert (body["spaces"], body["users"], body["accounts"]) == (1, 1, 0)
    assert await served.plan() == "pro"
    assert served.lines[-1].startswith("reloaded fixtures (on request): 1 space, 1 user,")


async def test_a_bad_file_keeps_the_old_data_and_says_where(start: Start) -> None:
    served = await start()
    served.path.write_text(fixture("pro") + "      - ids: {user_id: u2}\n        trait: {}\n")
    response = await served.client.post("/__admin/reload")
    body = await response.json()
    assert response.status == 422
    message = body["error"]["message"]
    assert message.startswith("reload of fixtures (on request) failed, still serving the")
    assert f"{served.path}:9:9: unknown key `trait`" in message
    assert await served.plan() == "free"
    assert served.lines[-1] == message


async def test_faults_limits_and_journal_survive_and_runtime_data_goes(start: Start) -> None:
    served = await start(faults=[{"id": "slow", "route": "events", "latency": "1ms"}])
    client = served.client
    assert (await client.post("/__admin/faults", json={"spec": "links:503"})).status == 201
    await client.patch("/__admin/spaces/sp", json={"rate_limit": 7})
    await client.put(
        "/__admin/spaces/sp/collections/users/profiles",
        json={"ids": {"user_id": "added"}, "traits": {"plan": "x"}},
    )
    assert await served.plan("added") == "x"
    journal_before = len(served.app[STATE].journal)
    served.path.write_text(fixture("pro"))
    assert (await client.post("/__admin/reload")).status == 200
    faults = (await (await client.get("/__admin/faults")).json())["faults"]
    assert [f["id"] for f in faults] == ["slow", "fault-2"]
    spaces = (await (await client.get("/__admin/spaces")).json())["spaces"]
    assert spaces[0]["rate_limit"] == {"per_second": 7.0, "burst": 7}
    assert len(served.app[STATE].journal) == journal_before
    assert await served.plan("added") == 404
    assert await served.plan() == "pro"


async def test_limits_and_fault_rules_written_in_the_files_follow_them(start: Start) -> None:
    rule = "faults:\n  - {id: from-file, route: traits, status: 500}\n"
    served = await start(fixture(faults=rule))
    client = served.client
    await client.post("/__admin/faults", json={"id": "mine", "route": "links", "status": 503})
    assert await served.plan() == 500
    served.path.write_text(
        fixture().replace("rate_limit: 50", "rate_limit: 3")
        + "faults:\n  - {id: from-file, route: traits, status: 502}\n"
    )
    assert (await client.post("/__admin/reload")).status == 200
    faults = (await (await client.get("/__admin/faults")).json())["faults"]
    assert [(f["id"], f.get("status")) for f in faults] == [("from-file", 502), ("mine", 503)]
    spaces = (await (await client.get("/__admin/spaces")).json())["spaces"]
    assert spaces[0]["rate_limit"] == {"per_second": 3.0, "burst": 3}
    assert await served.plan() == 502
    assert (await client.post("/__admin/reset")).status == 200
    faults = (await (await client.get("/__admin/faults")).json())["faults"]
    assert [f["id"] for f in faults] == ["from-file"]


async def test_a_fixture_rule_written_again_as_it_was_keeps_its_id_and_counters(
    start: Start,
) -> None:
    # A reload whose files changed another rule renumbered every one (fault-1 -> fault-3)
    # and started its counters again: a `times: 2` rule that had fired fired twice more.
    kept = "  - {route: traits, status: 500, times: 2}\n"
    served = await start(fixture(faults="faults:\n" + kept + "  - {route: links, status: 503}\n"))
    client = served.client
    assert await served.plan() == 500
    served.path.write_text(
        fixture(
            faults="faults:\n" + kept + "  - {route: links, status: 502}\n"
            "  - {route: events, status: 504}\n"
        )
    )
    assert (await client.post("/__admin/reload")).status == 200
    faults = (await (await client.get("/__admin/faults")).json())["faults"]
    assert [(f["id"], f["status"], f["fired"]) for f in faults] == [
        ("fault-1", 500, 1),
        ("fault-3", 502, 0),
        ("fault-4", 504, 0),
    ]
    assert await served.plan() == 500
    assert await served.plan() == "free"  # its two times are spent


async def test_realism_written_in_the_files_follows_them_but_where_changed_at_run_time(
    start: Start,
) -> None:
    # A reload kept the switches of the files at start, and a reset went back to those.
    served = await start("realism: {null_lists: true}\n" + fixture())
    client = served.client
    patched = await client.patch("/__admin/realism", json={"unescaped_500": True})
    assert patched.status == 200
    served.path.write_text("realism: {short_pages: true, unescaped_500: false}\n" + fixture())
    assert (await client.post("/__admin/reload")).status == 200
    expected = {"short_pages": True, "null_lists": False, "unescaped_500": True}
    realism = (await (await client.get("/__admin/realism")).json())["realism"]
    assert {name: realism[name] for name in expected} == expected
    assert (await client.post("/__admin/reset")).status == 200
    realism = (await (await client.get("/__admin/realism")).json())["realism"]
    assert {name: realism[name] for name in expected} == {**expected, "unescaped_500": False}


async def test_a_request_in_flight_finishes_on_the_data_it_started_with(start: Start) -> None:
    served = await start()
    state = served.app[STATE]
    state.faults.add({"route": "traits", "latency": "300ms"})
    slow = asyncio.ensure_future(served.plan())
    while not state.journal and not slow.done():
        await asyncio.sleep(0)  # until the request has arrived (no time passes)
    served.path.write_text(fixture("pro"))
    assert (await served.client.post("/__admin/reload")).status == 200
    assert await slow == "free"
    state.faults.clear()
    assert await served.plan() == "pro"


SECOND_USER = "      - ids: {user_id: u2}\n        traits: {plan: second}\n"


def _written_while_read(
    monkeypatch: pytest.MonkeyPatch, path: Path, rest: Callable[[int], str | None]
) -> list[int]:
    """Each load of the fixtures finds ``path`` written to as it was read: once the n-th
    has read it, ``rest(n)`` (if any) is added to it, as an editor saving in place writes
    its second half. The loads, counted."""
    from profilemock.mockserver import reload

    loaded = load_fixtures
    reads: list[int] = []

    def load(*args: Any, **kwargs: Any) -> Any:
        try:
            return loaded(*args, **kwargs)
        finally:
            reads.append(len(reads))
            more = rest(len(reads))
            if more is not None:
                with path.open("a") as file:
                    file.write(more)

    monkeypatch.setattr(reload, "load_fixtures", load)
    return reads


@pytest.mark.parametrize("cut", [len(SECOND_USER), 15], ids=["valid", "invalid"])
async def test_a_file_written_while_it_is_read_is_read_again_never_served_half(
    start: Start, monkeypatch: pytest.MonkeyPatch, cut: int
) -> None:
    # Saved in place (not renamed over), a file read as it was written was served as far
    # as it had been written when that part was valid (u2 answered 404), and said to have
    # failed when it was not.
    served = await start()
    served.path.write_text(fixture("pro") + SECOND_USER[:-cut])  # the first part
    reads = _written_while_read(monkeypatch, served.path, {1: SECOND_USER[-cut:]}.get)
    body = await (await served.client.post("/__admin/reload")).json()
    assert (body["reloaded"], body["users"]) == (True, 2)
    assert (await served.plan("u1"), await served.plan("u2")) == ("pro", "second")
    assert len(reads) == 2
    assert len(served.lines) == 1


async def test_a_file_that_changes_each_time_it_is_read_keeps_the_old_data_and_says_so(
    start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = await start()
    served.path.write_text(fixture("pro"))
    reads = _written_while_read(monkeypatch, served.path, lambda n: f"# line {n}\n")
    response = await served.client.post("/__admin/reload")
    message = (await response.json())["error"]["message"]
    assert response.status == 422
    assert message.splitlines()[1:] == [
        f"  {served.path}: changed as it was read, {len(reads)} times running (written in"
        " place, and still being written?); its next save reloads it"
    ]
    assert await served.plan() == "free"


async def test_reload_without_fixture_files_is_a_conflict(aiohttp_client: ClientFactory) -> None:
    clock = Clock(NOW)
    app = create_app(_empty(clock), clock)
    client = await aiohttp_client(app)
    response = await client.post("/__admin/reload")
    assert response.status == 409
    assert "not started from fixture files" in (await response.json())["error"]["message"]


def _empty(clock: Clock) -> Any:
    from profilemock.fixtures.loader import load_data

    return load_data({"spaces": {"sp": {"tokens": ["t"]}}}, clock)


async def test_watch_serves_each_good_save_and_keeps_data_through_a_bad_one(
    start: Start,
) -> None:
    served = await start(watch=True)
    served.save(fixture("pro"))
    result = await served.next_reload()
    assert result.ok
    assert result.changed == (str(served.path),)
    assert await served.plan() == "pro"
    assert served.lines[-1].startswith("reloaded ")
    assert ": 1 space, 1 user, 0 accounts in " in served.lines[-1]

    served.save(fixture("team").replace("traits:", "traits: {plan: [", 1))
    result = await served.next_reload()
    assert not result.ok
    assert result.problems[0].startswith(f"{served.path}:8:1: YAML syntax:")
    assert await served.plan() == "pro"

    served.save(fixture("team"))
    assert (await served.next_reload()).ok
    assert await served.plan() == "team"


async def test_health_tells_the_last_reload_a_watched_save_failed_or_not(start: Start) -> None:
    # A save --watch could not use was told on stderr only: /__admin/health said "ok" and
    # nothing of it, and a client had to reload again (POST /__admin/reload) to learn why.
    served = await start(watch=True)
    served.app[RELOADER].wall = lambda: NOW

    async def last_reload() -> Any:
        return (await (await served.client.get("/__admin/health")).json())["last_reload"]

    assert await last_reload() is None  # none yet
    assert (await (await served.client.get("/__admin/health")).json())["watch_stopped"] is None
    served.save(fixture("team").replace("traits:", "traits: {plan: [", 1))
    assert not (await served.next_reload()).ok
    failed = await last_reload()
    assert failed["reloaded"] is False
    assert failed["at"] == "2026-06-15T12:00:00Z"
    assert failed["changed"] == [str(served.path)]
    assert [p.split(": ")[0] for p in failed["problems"]] == [f"{served.path}:8:1"]
    assert failed["problems"][0].startswith(f"{served.path}:8:1: YAML syntax:")
    assert (failed["spaces"], failed["users"], failed["accounts"]) == (None, None, None)
    assert await served.plan() == "free"  # the previous data, still served

    served.app[RELOADER].wall = lambda: NOW + 1_500_000_000
    served.save(fixture("pro").replace("user_id: u1}", "user_id: u1, email: A@x.io}"))
    assert (await served.next_reload()).ok
    ok = await last_reload()
    assert (ok["reloaded"], ok["at"], ok["problems"]) == (True, "2026-06-15T12:00:01.5Z", [])
    assert (ok["spaces"], ok["users"], ok["accounts"]) == (1, 1, 0)
    assert [w.split(": ")[1] for w in ok["warnings"]] == ["warning"]
    # What POST /__admin/reload answers, as health tells it after.
    asked = await (await served.client.post("/__admin/reload")).json()
    assert asked == {**await last_reload(), "seconds": asked["seconds"]}
    assert asked["changed"] == []


async def test_health_tells_no_reload_of_a_server_not_served_from_files(
    aiohttp_client: ClientFactory,
) -> None:
    client = await aiohttp_client(create_app(Store({}), Clock(NOW)))
    assert (await (await client.get("/__admin/health")).json())["last_reload"] is None


async def test_watch_sees_new_files_in_a_watched_directory(start: Start) -> None:
    served = await start(watch=True)
    more = served.path.with_name("more.yaml")
    more.write_text(
        "spaces:\n  sp:\n    users:\n      - ids: {user_id: u2}\n        traits: {plan: new}\n"
    )
    assert (await served.next_reload()).users == 2
    assert await served.plan("u2") == "new"


async def test_watch_says_a_file_was_removed_not_reloaded(start: Start) -> None:
    served = await start(watch=True)
    more = served.path.with_name("more.yaml")
    more.write_text("spaces:\n  sp:\n    users:\n      - ids: {user_id: u2}\n")
    assert (await served.next_reload()).users == 2
    more.unlink()
    result = await served.next_reload()
    assert (result.users, result.removed) == (1, (str(more),))
    assert served.lines[-1].startswith(
        f"reloaded the fixtures ({more} removed): 1 space, 1 user, 0 accounts in "
    )


async def test_watch_sees_a_directory_renamed_or_moved_in_or_out(
    start: Start, tmp_path: Path
) -> None:
    # `mv fixtures/v1 fixtures/old`, or out of the fixtures, was one change of the
    # directory alone, which is no fixture file: nothing was reloaded, and the files moved
    # out went on being served.
    served = await start(watch=True)
    fixtures = served.path.parent
    (fixtures / "v1").mkdir()
    (fixtures / "v1" / "more.yaml").write_text(
        "spaces:\n  sp:\n    users: [{ids: {user_id: u2}}]\n"
    )
    assert (await served.next_reload()).users == 2
    (fixtures / "v1").rename(fixtures / "old")
    result = await served.next_reload()
    assert (result.ok, result.changed, result.removed) == (
        True,
        (str(fixtures / "old"), str(fixtures / "v1")),
        (str(fixtures / "v1"),),
    )
    (fixtures / "old").rename(tmp_path / "out")
    result = await served.next_reload()
    assert (result.users, result.removed) == (1, (str(fixtures / "old"),))
    assert await served.plan("u2") == 404
    (tmp_path / "out").rename(fixtures / "back")
    assert (await served.next_reload()).changed == (str(fixtures / "back"),)
    assert await served.plan("u2") is None  # served again (u2 has no plan)
    shutil.copytree(fixtures / "back", tmp_path / "copy")  # copied in: `cp -r copy fixtures`
    (tmp_path / "copy" / "more.yaml").write_text(
        "spaces:\n  sp:\n    users: [{ids: {user_id: u3}}]\n"
    )
    shutil.copytree(tmp_path / "copy", fixtures / "copy")
    while (await served.next_reload()).users != 3:  # its files' own changes too, maybe
        pass
    (fixtures / "empty").mkdir()  # holds no fixture file: no reload
    (fixtures / "empty").rename(fixtures / "still-empty")
    (fixtures / "back").chmod(0o700)  # there as it was
    served.save(fixture("pro"))
    assert (await served.next_reload()).changed == (str(served.path),)


async def test_a_watch_the_system_refuses_is_told_and_the_fixtures_still_served(
    start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The system's limit of watches reached (a dev server watching node_modules beside):
    # the banner said saves were served, none was, and Ctrl-C then said "cannot write the
    # output: OS file watch limit reached".
    async def refused(*args: Any, **kwargs: Any) -> Any:
        raise OSError('OS file watch limit reached. about ["/x"]')
        yield  # an async generator, as watchfiles' is: it raises when first asked

    monkeypatch.setattr(reload_module, "_each_second", refused)
    served = await start(watch=True)
    reloader = served.app[RELOADER]
    assert served.lines == [reloader.unwatched]
    assert served.lines[0].startswith(
        '--watch stopped: OS file watch limit reached. about ["/x"]; saved changes are not'
        " served now (POST /__admin/reload, or the explorer's Reload fixtures, reloads them;"
        " restart to watch again); on Linux, raise the limit of watches (sudo sysctl"
        " fs.inotify.max_user_watches=524288), or serve with WATCHFILES_FORCE_POLLING=1 in the"
        " environment (it needs no watch: it looks at the files every 0.3 s)"
    )
    health = await (await served.client.get("/__admin/health")).json()
    assert health["watch_stopped"] == reloader.unwatched  # a page polling the fake sees it
    served.save(fixture("pro"))
    assert (await served.client.post("/__admin/reload")).status == 200
    assert await served.plan() == "pro"


async def test_a_watched_directory_removed_as_its_watch_is_set_up_is_watched_once_back(
    start: Start, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Gone between the look that found it and the watch: the watch stopped for good.
    real, calls = reload_module._each_second, []

    async def gone(paths: Any) -> Any:
        shutil.rmtree(tmp_path / "fixtures")
        raise FileNotFoundError(f"No such file or directory (os error 2) about {paths}")
        yield  # an async generator, as watchfiles' is: it raises when first asked

    def racing(paths: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(paths)
        return gone(paths) if len(calls) == 1 else real(paths, *args, **kwargs)

    monkeypatch.setattr(reload_module, "_each_second", racing)
    served = await start(watch=True)
    served.path.parent.mkdir()
    served.path.write_text(fixture("back"))
    while not (await served.next_reload()).ok:  # a half-written file, maybe
        pass
    assert await served.plan() == "back"
    served.save(fixture("again"))
    assert (await served.next_reload()).ok
    assert await served.plan() == "again"


async def test_watch_sees_a_watched_directory_removed_and_made_again(start: Start) -> None:
    # `rm -rf fixtures` took the directory's watch with it: the directory made again, no
    # save was ever seen again.
    served = await start(watch=True)
    shutil.rmtree(served.path.parent)
    result = await served.next_reload()
    assert not result.ok
    assert await served.plan() == "free"
    served.path.parent.mkdir()
    served.path.write_text(fixture("back"))
    while not (result := await served.next_reload()).ok:  # a half-written file, maybe
        pass
    assert await served.plan() == "back"
    served.save(fixture("again"))
    assert (await served.next_reload()).ok
    assert await served.plan() == "again"


async def _released(
    aiohttp_client: ClientFactory, tmp_path: Path
) -> tuple[Served, Path, asyncio.Queue[Reloaded]]:
    """A fake watching ``current``, a link to release-1 (plan "one") beside release-2 (plan
    "two"): what it serves (saves go to release-2), the link, and its reloads."""
    for release, plan in (("release-1", "one"), ("release-2", "two")):
        (tmp_path / release).mkdir()
        (tmp_path / release / "users.yaml").write_text(fixture(plan))
    current = tmp_path / "current"
    current.symlink_to("release-1")
    clock = Clock(NOW)
    app = create_app(load_fixtures([current], clock), clock, ServerSettings())
    reloads: asyncio.Queue[Reloaded] = asyncio.Queue()
    enable_reload(app, [current], watch_files=True).on_reload.append(reloads.put_nowait)
    served = Served(await aiohttp_client(app), app, tmp_path / "release-2" / "users.yaml")
    return served, current, reloads


async def _repointed(
    served: Served, current: Path, reloads: asyncio.Queue[Reloaded], tmp_path: Path
) -> None:
    """``ln -sfn release-2 current``: release-2 is served, and a save in it too."""
    (tmp_path / "next").symlink_to("release-2")
    (tmp_path / "next").replace(current)
    assert (await asyncio.wait_for(reloads.get(), 30)).ok
    assert await served.plan() == "two"
    served.save(fixture("three"))
    assert (await asyncio.wait_for(reloads.get(), 30)).ok
    assert await served.plan() == "three"


async def test_watch_follows_a_symbolic_link_to_the_fixtures_pointed_elsewhere(
    aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    # `ln -sfn release-2 current`: the watch stayed on release-1, the link's new target
    # and every save in it went unseen.
    served, current, reloads = await _released(aiohttp_client, tmp_path)
    assert await served.plan() == "one"
    await _repointed(served, current, reloads, tmp_path)


async def test_watch_follows_a_symbolic_link_pointed_elsewhere_while_its_target_is_gone(
    aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    # `rm -rf release-1; ln -sfn release-2 current`: the watch waited for release-1 to be
    # back, for good, and never served nor watched release-2.
    served, current, reloads = await _released(aiohttp_client, tmp_path)
    shutil.rmtree(tmp_path / "release-1")
    assert not (await asyncio.wait_for(reloads.get(), 30)).ok
    await _repointed(served, current, reloads, tmp_path)


async def test_watch_calls_a_symbolic_link_to_a_missing_file_that(
    start: Start, tmp_path: Path
) -> None:
    # It was "no such file or directory" of a file `ls` lists; one pointing out of the
    # watched directory went unseen.
    served = await start(watch=True)
    link = served.path.with_name("b.yaml")
    link.symlink_to(tmp_path / "gone.yaml")
    result = await served.next_reload()
    assert result.problems == (
        f"{link}: a symbolic link to a missing file ({tmp_path / 'gone.yaml'})",
    )
    assert result.removed == ()
    assert await served.plan() == "free"


def test_only_fixture_files_count_as_changes(tmp_path: Path) -> None:
    single = tmp_path / "one.yaml"
    tree = tmp_path / "tree"
    (tree / "deep").mkdir(parents=True)
    roots, counts = watched([single, tree, tree / "deep"])
    assert roots == [tmp_path]
    assert counts(str(single))
    assert counts(str(tree / "deep" / "x.json"))
    assert counts(str(tree / "users.YAML"))  # read from the directory too
    assert not counts(str(tree / "notes.txt"))
    assert not counts(str(tree / ".users.yaml.swp"))
    assert not counts(str(tmp_path / "other.yaml"))


async def test_files_given_alone_are_watched_through_their_directory_alone(
    aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    # `--fixtures profiles.yaml` in a project: its directory was watched with everything
    # under it (a watch for each directory of node_modules: the system's limit, 8,192 on
    # many Linux machines, reached, and every install and build watched).
    (tmp_path / "node_modules" / "pkg").mkdir(parents=True)
    (tmp_path / "mocks").mkdir()
    profiles, more = tmp_path / "profiles.yaml", tmp_path / "mocks" / "more.yaml"
    roots, counts = watched([profiles, more])
    assert (roots, counts.recursive) == ([tmp_path, tmp_path / "mocks"], False)
    assert counts(str(more))
    assert not counts(str(tmp_path / "node_modules" / "pkg" / "more.yaml"))
    assert watched([profiles, tmp_path / "mocks"])[1].recursive  # a directory given
    # Both files' saves seen: the one inside the other's directory too.
    profiles.write_text(fixture())
    more.write_text("spaces:\n  sp:\n    users: [{ids: {user_id: u2}}]\n")
    clock = Clock(NOW)
    app = create_app(load_fixtures([profiles, more], clock), clock)
    reloads: asyncio.Queue[Reloaded] = asyncio.Queue()
    enable_reload(app, [profiles, more], watch_files=True).on_reload.append(reloads.put_nowait)
    served = Served(await aiohttp_client(app), app, profiles)
    more.write_text("spaces:\n  sp:\n    users: [{ids: {user_id: u2}, traits: {plan: b}}]\n")
    assert (await asyncio.wait_for(reloads.get(), 30)).changed == (str(more),)
    served.save(fixture("pro"))
    assert (await asyncio.wait_for(reloads.get(), 30)).changed == (str(profiles),)
    assert (await served.plan("u2"), await served.plan()) == ("b", "pro")


async def test_a_now_already_in_force_leaves_the_clock_as_it_stands(
    aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    """A reload of files whose `now:` has not changed keeps a clock set running since (it
    was pinned again: "the clock survives a reload" did not hold); a `now:` changed in the
    files pins the date at the new one."""
    path = tmp_path / "users.yaml"
    path.write_text("now: 2030-01-01T00:00:00Z\n" + fixture())
    clock = Clock()
    app = create_app(load_fixtures([path], clock), clock)
    enable_reload(app, [path])
    client = await aiohttp_client(app)

    async def setting() -> Any:
        body = await (await client.get("/__admin/clock")).json()
        return body["now"], body["frozen"], body["pinned"]

    assert await setting() == ("2030-01-01T00:00:00Z", True, True)
    await client.post("/__admin/clock/resume")
    path.write_text("now: 2030-01-01T00:00:00Z\n" + fixture("pro"))
    assert (await client.post("/__admin/reload")).status == 200
    assert (await setting())[1:] == (False, False)
    path.write_text("now: 2031-01-01T00:00:00Z\n" + fixture("pro"))
    assert (await client.post("/__admin/reload")).status == 200
    assert await setting() == ("2031-01-01T00:00:00Z", True, True)


async def test_a_now_changed_in_the_files_moves_the_date_they_pinned(
    aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    """A `now:` changed while the clock still stands where the files' old one pinned it
    pins the date at the new one (the reload read the files against the old date and left
    the clock there); a date pinned by other means (the admin API, --now) stays."""
    path = tmp_path / "users.yaml"
    path.write_text("now: 2030-01-01T00:00:00Z\n" + fixture())
    clock = Clock()
    app = create_app(load_fixtures([path], clock), clock)
    enable_reload(app, [path])
    client = await aiohttp_client(app)

    async def setting() -> Any:
        body = await (await client.get("/__admin/clock")).json()
        return body["now"], body["pinned"]

    events = '        events: [{event: Signed Up, timestamp: "-1d"}]\n'
    path.write_text("now: 2031-01-01T00:00:00Z\n" + fixture(more=events))
    assert (await client.post("/__admin/reload")).status == 200
    assert await setting() == ("2031-01-01T00:00:00Z", True)
    served = await client.get(TRAITS.format("u1").replace("traits", "events"), headers=AUTH)
    assert [e["timestamp"] for e in (await served.json())["data"]] == ["2030-12-31T00:00:00Z"]
    await client.post("/__admin/clock/pin", json={"at": "2029-01-01T00:00:00Z"})
    path.write_text("now: 2032-01-01T00:00:00Z\n" + fixture())
    assert (await client.post("/__admin/reload")).status == 200
    assert await setting() == ("2029-01-01T00:00:00Z", True)


@pytest.mark.parametrize("now", ["-1d", "now"])
async def test_a_relative_now_already_in_force_leaves_the_clock_as_it_stands(
    aiohttp_client: ClientFactory, tmp_path: Path, now: str
) -> None:
    """A relative `now:` is the same `now:` at every reload: read against the clock again,
    it was a new instant each time, which pinned a clock set running since (a day further
    back at every reload of `-1d`)."""
    path = tmp_path / "users.yaml"
    path.write_text(f"now: {now}\n" + fixture())
    clock = Clock()
    app = create_app(load_fixtures([path], clock), clock)
    enable_reload(app, [path])
    client = await aiohttp_client(app)
    pinned = clock.now_ns()
    assert (await client.post("/__admin/reload")).status == 200
    assert clock.pinned
    assert clock.now_ns() == pinned
    await client.post("/__admin/clock/resume")
    path.write_text(f"now: {now}\n" + fixture("pro"))
    assert (await client.post("/__admin/reload")).status == 200
    assert not clock.frozen


async def test_a_reload_reads_relative_times_against_the_servers_own_clock(
    aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    """The files were read against a new clock on the system's time, set as the server's
    stood: a server clock running on another source (a test's) read them at another date."""
    real = [NOW]
    clock = Clock(source=lambda: real[0])
    path = tmp_path / "users.yaml"
    path.write_text(fixture())
    app = create_app(load_fixtures([path], clock), clock)
    enable_reload(app, [path])
    client = await aiohttp_client(app)
    path.write_text(fixture(more='        events: [{event: Signed Up, timestamp: "-1d"}]\n'))
    assert (await client.post("/__admin/reload")).status == 200
    served = await client.get(TRAITS.format("u1").replace("traits", "events"), headers=AUTH)
    assert [e["timestamp"] for e in (await served.json())["data"]] == ["2026-06-14T12:00:00Z"]


async def test_a_reload_tells_the_warnings_of_the_new_data(start: Start) -> None:
    served = await start()
    more = "      - ids: {user_id: u2, email: Ada@Example.com}\n"
    served.path.write_text(fixture("pro", more=more))
    body = await (await served.client.post("/__admin/reload")).json()
    warning = (
        f"{served.path}:8:28: warning: `email` ids are stored in lowercase, as Segment stores"
        " them: this one is served as `ada@example.com`"
    )
    assert [w[: len(warning)] for w in body["warnings"]] == [warning]
    assert served.lines[-1].startswith("reloaded fixtures (on request): 1 space, 2 users,")
    assert served.lines[-1].splitlines()[1].startswith(f"  {warning}")


async def test_a_reload_tells_a_warning_once_and_how_many_still_stand(start: Start) -> None:
    # Each save that kept a warning printed it again: the same lines at every save.
    served = await start()
    ada = "      - ids: {user_id: u2, email: Ada@Example.com}\n"
    served.path.write_text(fixture("pro", more=ada))
    await served.client.post("/__admin/reload")
    assert "2 users, 0 accounts in " in served.lines[-1]
    assert served.lines[-1].split("\n")[0].endswith(" s; 1 warning:")
    # Saved again, a line added above it: the same warning, told before.
    served.path.write_text("# a comment\n" + fixture("team", more=ada))
    body = await (await served.client.post("/__admin/reload")).json()
    assert len(body["warnings"]) == 1  # what stands, all of it
    assert served.lines[-1].endswith(" s; 1 warning still stands (told before)")
    # Another one: only the new one is told.
    bob = "      - ids: {user_id: u3, email: Bob@Example.com}\n"
    served.path.write_text(fixture("team", more=ada + bob))
    await served.client.post("/__admin/reload")
    head, *told = served.lines[-1].split("\n")
    assert head.endswith(" s; 2 warnings still stand, 1 of them new:")
    (bob_told,) = told
    assert "`bob@example.com`" in bob_told
    # Gone: nothing stands, nothing is said; back: told again.
    served.path.write_text(fixture("team"))
    await served.client.post("/__admin/reload")
    assert served.lines[-1].endswith(" s")
    served.path.write_text(fixture("team", more=bob))
    await served.client.post("/__admin/reload")
    assert served.lines[-1].split("\n")[0].endswith(" s; 1 warning:")


async def test_a_warning_of_the_files_at_start_is_not_told_again_at_a_reload(
    start: Start,
) -> None:
    served = await start(fixture(more="      - ids: {user_id: u2, email: Ada@Example.com}\n"))
    await served.client.post("/__admin/reload")
    assert served.lines[-1].endswith(" s; 1 warning still stands (told before)")


async def test_a_reload_that_removes_a_rules_space_says_the_rule_matches_nothing_now(
    start: Start,
) -> None:
    # At a start such a rule is refused; a reload left it matching nothing without a word.
    other = "  gone:\n    tokens: [g]\n    users: [{ids: {user_id: g1}}]\n"
    served = await start(fixture(more=other), faults=[parse_spec("traits:503:space=gone")])
    added = await served.client.post("/__admin/faults", json={"status": 500, "space": "go*"})
    assert added.status == 201
    served.path.write_text(fixture())
    body = await (await served.client.post("/__admin/reload")).json()
    assert body["reloaded"] is True
    head, *told = served.lines[-1].split("\n")
    assert head.endswith(" s; 2 warnings:")
    assert told == [
        '  warning: fault rule `fault-1` of --fault ({"route": "traits", "status": 503, "space":'
        ' "gone"}) is kept but matches no request now: `gone` matches no space of the fixtures;'
        " spaces are sp; it matches again if the space comes back",
        '  warning: fault rule `fault-2` ({"status": 500, "space": "go*"}) is kept but matches'
        " no request now: `go*` matches no space of the fixtures; spaces are sp; it matches"
        " again if the space comes back",
    ]
    assert [rule.id for rule in served.app[STATE].faults] == ["fault-1", "fault-2"]
    # Saved again without it: told before. Back: it matches again, and nothing is said.
    served.path.write_text(fixture("pro"))
    await served.client.post("/__admin/reload")
    assert served.lines[-1].endswith(" s; 2 warnings still stand (told before)")
    served.path.write_text(fixture(more=other))
    await served.client.post("/__admin/reload")
    assert served.lines[-1].endswith(" s")
    gone = await served.client.get(
        "/v1/spaces/gone/collections/users/profiles/user_id:g1/traits", headers=basic("g")
    )
    assert gone.status == 503


async def test_a_stranded_rule_is_told_once_whatever_spaces_come_and_go(start: Start) -> None:
    # Its words name the spaces there are: a space added elsewhere told it again as new.
    gone = "  gone:\n    tokens: [g]\n"
    served = await start(fixture(more=gone), faults=[parse_spec("traits:503:space=gone")])
    served.path.write_text(fixture())
    await served.client.post("/__admin/reload")
    assert served.lines[-1].split("\n")[0].endswith(" s; 1 warning:")
    served.path.write_text(fixture(more="  other:\n    tokens: [o]\n"))
    body = await (await served.client.post("/__admin/reload")).json()
    assert served.lines[-1].endswith(" s; 1 warning still stands (told before)")
    # What stands is told as it is now: the spaces there are.
    (warning,) = body["warnings"]
    assert "`gone` matches no space of the fixtures; spaces are sp, other;" in warning
    # Another rule stranded beside it is new, and told alone.
    added = await served.client.post("/__admin/faults", json={"status": 500, "space": "oth*"})
    assert added.status == 201
    served.path.write_text(fixture())
    await served.client.post("/__admin/reload")
    head, *told = served.lines[-1].split("\n")
    assert head.endswith(" s; 2 warnings still stand, 1 of them new:")
    assert [line[:40] for line in told] == ['  warning: fault rule `fault-2` ({"statu']


OTHER = """spaces:
  sp:
    users:
      - ids: {user_id: o1}
        created_at: -1d
        events: [{event: Signed Up, timestamp: "-2h"}]
      - ids: {user_id: o2, email: Ada@Example.com}
        created_at: "2026-06-01T00:00:00Z"
        events: [{event: Signed Up, timestamp: "-2h"}]
"""
"""A second file of space `sp`: a user whose times are all relative, one who mixes them
(and warns: an email in capitals)."""


async def test_a_reload_reads_again_only_the_files_whose_content_changed(
    start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every file was read and examined again at every reload: a 64 MB set beside the
    # 50-user file edited took 2.5 s a save.
    from profilemock.fixtures.source import read_file as real

    read: list[str] = []

    def read_file(path: Path, *args: Any, **kwargs: Any) -> Any:
        read.append(path.name)
        return real(path, *args, **kwargs)

    served = await start()
    monkeypatch.setattr("profilemock.fixtures.loader.read_file", read_file)
    other = served.path.with_name("other.yaml")
    other.write_text(OTHER)
    assert (await served.client.post("/__admin/reload")).status == 200
    assert sorted(read) == ["other.yaml", "users.yaml"]
    read.clear()
    served.path.write_text(fixture("pro"))
    assert (await served.client.post("/__admin/reload")).status == 200
    assert read == ["users.yaml"]
    assert await served.plan() == "pro"
    assert await served.plan("o1") is None  # served still, from the file not read again
    # Saved as it was (an editor's save without a change): not read again either.
    read.clear()
    other.write_text(OTHER)
    assert (await served.client.post("/__admin/reload")).status == 200
    assert read == []


async def test_a_file_not_read_again_is_checked_with_the_others_as_ever(start: Start) -> None:
    served = await start()
    other = served.path.with_name("other.yaml")
    other.write_text(OTHER)
    first = await (await served.client.post("/__admin/reload")).json()
    # Its warning told again with its place, read from what the first reload found.
    (warning,) = first["warnings"]
    assert warning.startswith(f"{other}:7:28: warning: `email` ids are stored in lowercase")
    # The clock moved: its relative times follow, those it mixes with a date too.
    advanced = await served.client.post("/__admin/clock/advance", json={"by": "3h"})
    assert advanced.status == 200
    served.path.write_text(fixture("pro"))
    body = await (await served.client.post("/__admin/reload")).json()
    assert body["warnings"] == first["warnings"]
    for user in ("o1", "o2"):
        events = await served.client.get(
            TRAITS.format(user).replace("traits", "events"), headers=AUTH
        )
        assert [e["timestamp"] for e in (await events.json())["data"]] == ["2026-06-15T13:00:00Z"]
    # An id the unchanged file gives, given again by the edited one: refused, both placed
    # (the unchanged file's place read from it again), and the data before still served.
    served.path.write_text(fixture("team", more="      - ids: {user_id: o1}\n"))
    refused = await served.client.post("/__admin/reload")
    assert refused.status == 422
    message = (await refused.json())["error"]["message"]
    assert (
        f"{served.path}:8:15: external id `user_id:o1` already belongs to the profile at"
        f" {other}:4; an external id names one profile"
    ) in message
    assert await served.plan() == "pro"


KEPT = """spaces:
  sp:
    tokens: [t]
    users:
      - ids: {user_id: rel}
        created_at: -3d
        events: [{event: Viewed, timestamp: -2d}, {event: Now, timestamp: now}]
      - ids: {user_id: mixed, email: Mixed@Example.com}
        created_at: "2026-06-10T00:00:00Z"
        updated_at: -3d
        links: [group_id:g1]
    accounts:
      - ids: {group_id: g1}
        created_at: -10d
        metadata: {updated_at: -1d}
"""
"""Relative, mixed and warned profiles (the mixed one's `updated_at` falls before its
`created_at` once the clock is back a week): what a kept file is checked for again."""

EDITED = """spaces:
  sp:
    users:
      - ids: {user_id: e1}
        created_at: -1d
        links: [group_id:g1]
"""


Step = tuple[str, Callable[[], object] | None, Callable[[Clock], object] | None]
"""A change to the files, or to the clocks, and what it is."""


def _reload_steps(fixtures: Path) -> list[Step]:
    kept, edited, near = fixtures / "kept.yaml", fixtures / "edited.yaml", fixtures / "near.yaml"
    renamed = fixtures / "renamed.yaml"
    return [
        ("the clock 40 days back", None, lambda clock: clock.freeze(NOW - 40 * DAY_NS)),
        ("the files read there", None, None),
        ("the clock at NOW", None, lambda clock: clock.freeze(NOW)),
        # -374900d: 4 days into the year 1000 read at NOW; before it, read 40 days earlier.
        ("a time near the years' end", lambda: near.write_text(_near()), None),
        ("edited", lambda: edited.write_text(EDITED.replace("-1d", "-2d")), None),
        ("reverted to its old bytes", lambda: edited.write_text(EDITED), None),
        ("saved unchanged", lambda: kept.write_text(KEPT), None),
        ("an id of the kept file given again", lambda: near.write_text(_near("rel")), None),
        ("the clock a week back", None, lambda clock: clock.freeze(NOW - 7 * DAY_NS)),
        ("the id given once", lambda: near.write_text(_near()), None),
        ("the clock advanced", None, lambda clock: clock.advance(3 * DAY_NS + 7)),
        ("the linked account gone", lambda: kept.write_text(KEPT[: KEPT.index("    acc")]), None),
        ("the account back", lambda: kept.write_text(KEPT), None),
        ("renamed", lambda: edited.rename(renamed), None),
        ("removed", renamed.unlink, None),
        ("`now:` written", lambda: kept.write_text(f'now: "2026-07-01T00:00:00Z"\n{KEPT}'), None),
        ("`now:` moved", lambda: kept.write_text(f'now: "2026-05-01T00:00:00Z"\n{KEPT}'), None),
        ("added", lambda: edited.write_text(EDITED), None),
        ("`now:` gone", lambda: kept.write_text(KEPT), None),
        ("the clock running", None, lambda clock: clock.unfreeze()),
    ]


def _swap_into(stores: list[Store]) -> Callable[[Store, Setting], dict[str, str]]:
    """A reloader's ``swap`` keeping each store it is given (and no fault rule)."""

    def swap(store: Store, read_at: Setting) -> dict[str, str]:
        stores.append(store)
        return {}

    return swap


def _near(user: str = "n") -> str:
    return (
        f"spaces:\n  sp:\n    users:\n      - ids: {{user_id: {user}}}\n"
        "        created_at: -374900d\n"
    )


async def test_a_reload_keeping_files_as_read_serves_and_tells_what_reading_them_all_does(
    tmp_path: Path,
) -> None:
    """``Reloader.reads`` beside a reloader that reads every file each time, step by step:
    a file edited, reverted to its old bytes, saved unchanged, renamed, removed, added; an
    id of a kept file given again; a link to an account gone; a `now:` written, moved,
    gone; the clock set back, advanced, running. Each reload serves the same data, tells
    the same problems and warnings (new or told before), and leaves the clock the same. A
    time near the years' end was refused, or went untold, as checked at the instant the
    kept files were read."""
    from profilemock.fixtures.loader import Reads
    from tests.fixtures.test_snapshot import _assert_same

    (tmp_path / "kept.yaml").write_text(KEPT)
    (tmp_path / "edited.yaml").write_text(EDITED)
    ticks = [NOW]
    served: tuple[list[Store], list[Store]] = ([], [])
    keeping, reading = (
        Reloader([tmp_path], _swap_into(stores), Clock(source=lambda: ticks[0]))
        for stores in served
    )
    refused: list[str] = []
    for name, change, set_clock in _reload_steps(tmp_path):
        if change is not None:
            change()
        for reloader in (keeping, reading):
            if set_clock is not None:
                set_clock(reloader.clock)
        ticks[0] += 3_661 * 10**9  # time passes, for a running clock
        reading.reads = Reads()
        results = await keeping.reload(), await reading.reload()
        said = [(r.problems, r.warnings, r.new_warnings) for r in results]
        assert said[0] == said[1], name
        if not results[0].ok:
            refused.append(name)
        assert len(served[0]) == len(served[1]), name
        if results[0].ok:
            _assert_same(served[0][-1], served[1][-1])
        assert keeping.clock.snapshot() == reading.clock.snapshot(), name
    # The clock a week back, -374900d is before the year 1000 again.
    assert refused == [
        "an id of the kept file given again",
        "the clock a week back",
        "the id given once",
        "the linked account gone",
    ]


RELATIVE = (
    "      - ids: {user_id: u2}\n        created_at: -2d\n"
    "        events: [{event: Viewed, timestamp: -1h}]\n"
)
METADATA = "/v1/spaces/sp/collections/users/profiles/user_id:u2/metadata"
EVENTS = "/v1/spaces/sp/collections/users/profiles/user_id:u2/events"


async def _relative_times(client: Client) -> tuple[str, list[str], str]:
    """u2's `created_at`, its events' timestamps and the clock, as served."""
    metadata = await (await client.get(METADATA, headers=AUTH)).json()
    events = await (await client.get(EVENTS, headers=AUTH)).json()
    clock = await (await client.get("/__admin/clock")).json()
    times = [e["timestamp"] for e in events["data"] or ()]
    return metadata["metadata"]["created_at"], times, clock["now"]


AS_STARTED = ("2026-06-13T12:00:00Z", ["2026-06-15T11:00:00Z"], "2026-06-15T12:00:00Z")
"""What a `serve --now 2026-06-15T12:00:00Z` of ``fixture(more=RELATIVE)`` serves."""


async def test_a_reset_after_a_reload_at_a_moved_clock_serves_the_files_as_at_the_start(
    start: Start,
) -> None:
    """The reload read the relative times a month on; the reset put the clock back and kept
    them: `created_at` a month ahead of the clock, the event in the future (not served).
    The reset reads the data served again at the clock as started; a reset after it, and
    one after a reload at the clock as started, serves the data as it is (O(1))."""
    served = await start(fixture(more=RELATIVE))
    client = served.client
    assert await _relative_times(client) == AS_STARTED
    await client.post("/__admin/clock/advance", json={"by": "30d"})
    assert (await client.post("/__admin/reload")).status == 200
    assert (await _relative_times(client))[0] == "2026-07-13T12:00:00Z"
    reset = await client.post("/__admin/reset")
    assert (reset.status, await reset.json()) == (200, {"status": "reset"})
    assert await _relative_times(client) == AS_STARTED
    assert served.lines[-1].startswith(
        "reset: the fixtures served, read by a reload at another date, read again at the"
        " clock as started (2026-06-15T12:00:00Z) in "
    )
    lines = len(served.lines)
    assert (await client.post("/__admin/reset")).status == 200
    # A file saved since the reload, not reloaded: a reset does not read it.
    await client.post("/__admin/clock/advance", json={"by": "30d"})
    assert (await client.post("/__admin/reload")).status == 200
    served.path.write_text(fixture("pro", more=RELATIVE))
    assert (await client.post("/__admin/reset")).status == 200
    assert (await _relative_times(client), await served.plan()) == (AS_STARTED, "free")
    lines = len(served.lines)
    assert (await client.post("/__admin/reload")).status == 200
    assert (await client.post("/__admin/reset")).status == 200
    assert await _relative_times(client) == AS_STARTED
    assert len(served.lines) == lines + 1  # the reload's line only: nothing read again


async def test_a_reset_whose_data_does_not_load_at_the_clock_as_started_resets_nothing(
    start: Start,
) -> None:
    """A relative time within the years 1000 to 9999 at the clock a reload read it at,
    and not at the clock as started: the reset is refused as a failing reload is, every
    problem told — the data, the clock, the rules and the journal as they were."""
    served = await start()
    client = served.client
    await client.post("/__admin/clock/advance", json={"by": "30d"})
    # 24 days into the year 1000 read 30 days on; 6 days before it read at the start.
    far = "      - ids: {user_id: far}\n        created_at: -374910d\n"
    served.path.write_text(fixture("pro", more=far))
    assert (await client.post("/__admin/reload")).status == 200
    assert (await client.post("/__admin/faults", json={"spec": "links:503"})).status == 201
    assert await served.plan() == "pro"
    served.path.write_text(fixture())  # saved, not reloaded: what is told is of the data served
    reset = await client.post("/__admin/reset")
    assert reset.status == 422
    message = (await reset.json())["error"]["message"]
    assert message == served.lines[-1]
    assert message.startswith(
        "reset failed, nothing was reset: the fixtures served, read by a reload at another"
        " date, do not load at the clock as started (2026-06-15T12:00:00Z) (mend the files"
        " and reload, then reset): 1 problem\n  "
    )
    # The file changed since: where it was written is not known now (not read from the
    # new bytes, where it may be elsewhere or gone).
    assert message.endswith(
        f"  {served.path} at /spaces/sp/users/1/created_at: `-374910d` is outside the years"
        " 1000 to 9999, which RFC 3339 timestamps can express"
    )
    clock = await (await client.get("/__admin/clock")).json()
    assert clock["now"] == "2026-07-15T12:00:00Z"
    faults = (await (await client.get("/__admin/faults")).json())["faults"]
    assert [f["id"] for f in faults] == ["fault-1"]
    assert len(served.app[STATE].journal) == 1
    assert await served.plan("far") is None  # served (no traits)
    # The files mended, reloaded at the moved clock: a reset reads them as at the start.
    assert (await client.post("/__admin/reload")).status == 200
    assert (await client.post("/__admin/reset")).status == 200
    clock = await (await client.get("/__admin/clock")).json()
    assert (clock["now"], await served.plan("far"), await served.plan()) == (
        "2026-06-15T12:00:00Z",
        404,
        "free",
    )


async def test_a_now_changed_in_the_files_is_the_clock_a_reset_goes_back_to(
    aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    """As at a start, the files' `now:` pins the clock a reset puts back: one changed
    since the start, followed by the clock, was undone by a reset (the date the files
    pinned before, their relative times read at the new one: an event in the future);
    one added to files that had none pins it; one the clock as started did not stand at
    (`--now`) leaves it."""
    path = tmp_path / "users.yaml"
    event = '        events: [{event: Signed Up, timestamp: "-1d"}]\n'
    path.write_text("now: 2030-01-01T00:00:00Z\n" + fixture())
    clock = Clock()
    app = create_app(load_fixtures([path], clock), clock)
    enable_reload(app, [path])
    client = await aiohttp_client(app)

    async def after_reset() -> tuple[str, list[str]]:
        assert (await client.post("/__admin/reset")).status == 200
        now = (await (await client.get("/__admin/clock")).json())["now"]
        served = await client.get(TRAITS.format("u1").replace("traits", "events"), headers=AUTH)
        return now, [e["timestamp"] for e in (await served.json())["data"] or ()]

    path.write_text("now: 2031-01-01T00:00:00Z\n" + fixture(more=event))
    assert (await client.post("/__admin/reload")).status == 200
    assert await after_reset() == ("2031-01-01T00:00:00Z", ["2030-12-31T00:00:00Z"])
    # Removed: the clock stays as it stands, and so does the one a reset puts back.
    path.write_text(fixture(more=event))
    assert (await client.post("/__admin/reload")).status == 200
    assert await after_reset() == ("2031-01-01T00:00:00Z", ["2030-12-31T00:00:00Z"])

    path.write_text(fixture(more=event))
    running = Clock(source=lambda: NOW)
    app = create_app(load_fixtures([path], running), running)
    enable_reload(app, [path])
    client = await aiohttp_client(app)
    path.write_text("now: 2031-01-01T00:00:00Z\n" + fixture(more=event))
    assert (await client.post("/__admin/reload")).status == 200
    assert await after_reset() == ("2031-01-01T00:00:00Z", ["2030-12-31T00:00:00Z"])

    path.write_text("now: 2030-01-01T00:00:00Z\n" + fixture(more=event))
    given = Clock.pinned_at(NOW)
    app = create_app(load_fixtures([path], given), given)
    enable_reload(app, [path])
    client = await aiohttp_client(app)
    path.write_text("now: 2031-01-01T00:00:00Z\n" + fixture(more=event))
    assert (await client.post("/__admin/reload")).status == 200
    assert await after_reset() == ("2026-06-15T12:00:00Z", ["2026-06-14T12:00:00Z"])

    # `--now` given as the files' own `now:`: the clock stood where they pinned it, and
    # followed them (and a reset went) to the next one, as if they had pinned it.
    path.write_text("now: 2030-01-01T00:00:00Z\n" + fixture(more=event))
    given = Clock.pinned_at(parse_timestamp("2030-01-01T00:00:00Z", NOW))
    app = create_app(load_fixtures([path], given), given, ServerSettings(now_given=True))
    enable_reload(app, [path])
    client = await aiohttp_client(app)
    path.write_text("now: 2031-01-01T00:00:00Z\n" + fixture(more=event))
    assert (await client.post("/__admin/reload")).status == 200
    assert (await (await client.get("/__admin/clock")).json())["now"] == "2030-01-01T00:00:00Z"
    assert await after_reset() == ("2030-01-01T00:00:00Z", ["2029-12-31T00:00:00Z"])


@pytest.mark.parametrize("large", [False, True])
async def test_a_failing_reload_keeps_a_new_version_of_a_file_only_if_it_is_small(
    start: Start, monkeypatch: pytest.MonkeyPatch, large: bool
) -> None:
    """After a reload that fails, the new version of a file whose version served is held
    too is kept if the file is small (the next save, of another file, does not read it
    again) and let go if it is large: held beside the store still served, it doubled the
    memory of its profiles until the next good save. Saved back as served, a file is not
    read again either way."""
    from profilemock.fixtures.source import read_file as real

    read: list[str] = []

    def read_file(path: Path, *args: Any, **kwargs: Any) -> Any:
        if "examine" in kwargs:  # read to be loaded, not for a position in it
            read.append(path.name)
        return real(path, *args, **kwargs)

    served = await start()
    other = served.path.with_name("other.yaml")
    other.write_text(OTHER)
    assert (await served.client.post("/__admin/reload")).status == 200
    if large:
        monkeypatch.setattr("profilemock.fixtures.loader.MIN_BYTES", 1)
    monkeypatch.setattr("profilemock.fixtures.loader.read_file", read_file)
    clash = fixture("pro", more="      - ids: {user_id: o1}\n")
    served.path.write_text(clash)
    assert (await served.client.post("/__admin/reload")).status == 422
    assert read == ["users.yaml"]
    kept = [
        d.data["spaces"]["sp"]["users"] for d in _held(served.app) if d.source == str(served.path)
    ]
    # The version served, and the new one (two users) only when small.
    assert sorted(map(len, kept)) == ([1] if large else [1, 2])
    read.clear()
    other.write_text(OTHER.replace("o1", "o3"))  # the clash mended in the other file
    assert (await served.client.post("/__admin/reload")).status == 200
    assert sorted(read) == (["other.yaml", "users.yaml"] if large else ["other.yaml"])
    assert (await served.plan(), await served.plan("o1")) == ("pro", None)
    read.clear()
    served.path.write_text(clash.replace("o1", "o3"))
    assert (await served.client.post("/__admin/reload")).status == 422
    served.path.write_text(clash)
    assert (await served.client.post("/__admin/reload")).status == 200
    assert read == ["users.yaml"]


def _held(app: web.Application) -> list[Document]:
    """Every fixture document the reloader of ``app`` keeps, however it keeps them."""
    seen: set[int] = set()
    found: list[Document] = []
    todo = gc.get_referents(app[RELOADER].reads)  # its attributes
    while todo:
        held = todo.pop()
        if id(held) in seen:
            continue
        seen.add(id(held))
        if isinstance(held, Document):
            found.append(held)
        elif isinstance(held, (dict, list, tuple)):
            todo.extend(gc.get_referents(held))
    return found
