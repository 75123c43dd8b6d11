"""Progress while loading or generating, and Ctrl-C at any moment without a traceback."""

from __future__ import annotations

import io
import os
import signal
import sys
from pathlib import Path

import pytest

from profilemock.cli import main
from profilemock.clock import Clock
from profilemock.fixtures import generator
from profilemock.fixtures.generator import Plan, write
from profilemock.fixtures.loader import load_fixtures
from profilemock.problems import FixtureError
from profilemock.progress import ProgressBar, Steps, megabytes
from tests.conftest import NOW, running


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bar_is_drawn_in_place_at_most_ten_times_a_second_and_cleared() -> None:
    stream, clock = Terminal(), FakeTime()
    bar = ProgressBar(stream, 200, "loading", clock=clock)
    bar.update(10)
    assert stream.getvalue() == ""  # a job that ends at once shows nothing
    clock.now += 0.5
    bar.update(50)
    assert stream.getvalue().startswith("\rloading [########----------------------] 50/200 (25%")
    bar.update(60)
    assert "60/200" not in stream.getvalue()
    bar.finish()
    assert stream.getvalue().endswith("\r\x1b[K")


def test_off_a_terminal_lines_come_once_a_second_if_asked_for() -> None:
    stream, clock = io.StringIO(), FakeTime()
    silent = ProgressBar(stream, 10, "generating", clock=clock)
    clock.now += 5
    silent.update(5)
    assert stream.getvalue() == ""
    logged = ProgressBar(stream, 10, "loading", lines=True, clock=clock)
    logged.update(1)
    clock.now += 1
    logged.update(2)
    logged.update(3)
    clock.now += 1
    logged.update(4)
    assert stream.getvalue() == "loading: 2 of 10 (1 s)\nloading: 4 of 10 (2 s)\n"


def test_steps_show_each_step_with_its_own_units() -> None:
    stream, clock = io.StringIO(), FakeTime()
    steps = Steps(stream, {"reading": ("reading", megabytes)}, clock=clock)
    steps("reading", 1_000_000, 9_000_000)
    clock.now += 1.5
    steps("reading", 4_500_000, 9_000_000)
    steps("building", 10, 20)
    clock.now += 1
    steps("building", 15, 20)
    assert stream.getvalue().splitlines() == [
        "reading: 4.5 MB of 9.0 MB (2 s)",
        "building: 10 of 20 (2 s)",
        "building: 15 of 20 (2 s)",
    ]
    assert steps.shown_any


def test_the_loader_reports_reading_checking_and_building(tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    with path.open("w") as file:
        write(Plan(1500, events=(0, 3), seed=1), file)
    seen: list[tuple[str, int, int]] = []
    store = load_fixtures([path], Clock(NOW), lambda *step: seen.append(step))
    assert list(dict.fromkeys(step for step, _, _ in seen)) == [
        "reading",
        "checking",
        "building",
    ]
    reading = [done for step, done, _ in seen if step == "reading"]
    assert reading == sorted(reading)
    assert reading[-1] == path.stat().st_size
    building = [(done, total) for step, done, total in seen if step == "building"]
    profiles = 1500 + 75
    assert building[-1] == (profiles, profiles)
    assert len(store.spaces["generated"].profiles["users"]) == 1500


def test_reading_a_large_json_file_tells_how_far_its_profiles_are_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One process reads it all (a pytest process without xdist would fork, and its
    # children's parts are not told as they go: the count below is one process's).
    monkeypatch.setenv("PROFILEMOCK_LOAD_PROCESSES", "1")
    path = tmp_path / "g.json"
    with path.open("w") as file:
        write(Plan(3500, events=(0, 1), seed=1), file, "json")
    seen: list[tuple[str, int, int]] = []
    load_fixtures([path], Clock(NOW), lambda *step: seen.append(step))
    reading = [done for step, done, _ in seen if step == "reading"]
    size = path.stat().st_size
    assert reading == sorted(reading)
    assert reading[-1] == size
    assert len([done for done in reading if 0 < done < size]) >= 3  # one every 1,000 profiles


def test_ctrl_c_while_generating_leaves_no_file_and_no_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(plan: Plan, out: io.TextIOBase, *args: object) -> None:
        out.write("# half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(generator, "write", interrupted)  # `generate` imports it when run
    err = io.StringIO()
    target = tmp_path / "g.yaml"
    assert main(["generate", "--users", "10", "-o", str(target)], stderr=err) == 130
    assert err.getvalue() == "\nprofilemock: stopped (Ctrl-C)\n"
    assert list(tmp_path.iterdir()) == []


def _as_from_a_terminal() -> None:
    """Ctrl-C as a terminal delivers it, whatever the test process's own handling of
    SIGINT (an ignored signal stays ignored across exec)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def test_ctrl_c_while_serve_loads_a_large_set_stops_it_without_a_traceback(
    tmp_path: Path,
) -> None:
    path = tmp_path / "large.yaml"
    with path.open("w") as file:
        write(Plan(2200, events=(0, 60), seed=2), file)
    assert path.stat().st_size > 5_000_000
    serve = (sys.executable, "-m", "profilemock", "serve", "--fixtures", str(path), "--port", "0")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with running(*serve, env=env, preexec_fn=_as_from_a_terminal) as process:
        assert process.stderr is not None
        first = process.stderr.readline()
        assert first.startswith("loading ")
        assert first.rstrip().endswith("of fixtures from 1 file (Ctrl-C stops)")
        process.send_signal(signal.SIGINT)  # the load takes seconds: it is still going
        out, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "Traceback" not in err
    assert err.rstrip().endswith("profilemock: stopped (Ctrl-C)")
    assert "serving" not in out


def test_a_problem_in_a_file_read_with_progress_still_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "spaces:\n  sp:\n    tokens: [t]\n    users:\n      - ids: {user_id: u1}\n        trait: {}\n"
    )
    with pytest.raises(FixtureError) as info:
        load_fixtures([path], Clock(NOW), lambda *step: None)
    assert f"{path}:6:9: unknown key `trait`" in str(info.value)
