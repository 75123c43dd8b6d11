"""Fault rules from every source share one model: --fault specs, fixture files, dicts."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest

from profilemock.clock import Clock
from profilemock.faults import FaultRuleError, FaultSet, parse_spec
from profilemock.fixtures.loader import load_fixtures
from profilemock.mockserver.app import STATE, create_app
from profilemock.problems import FixtureError
from tests.conftest import NOW, WriteFixture, refused
from tests.test_cli import run_cli


@pytest.mark.parametrize(
    ("spec", "rule"),
    [
        ("traits:429:times=2", {"route": "traits", "status": 429, "times": 2}),
        ("*:latency=150ms", {"route": "*", "latency": "150ms"}),
        (
            "events:503:every=3:probability=0.25",
            {"route": "events", "status": 503, "every": 3, "probability": 0.25},
        ),
        ("*:latency=10ms..50ms", {"route": "*", "latency": {"min": "10ms", "max": "50ms"}}),
        (
            "links:latency=20ms~200ms",
            {"route": "links", "latency": {"p50": "20ms", "p95": "200ms"}},
        ),
        (
            "traits:reset:after=1:identifier=user_id:*",
            {"route": "traits", "fault": "reset", "after": 1, "identifier": "user_id:*"},
        ),
        ("*:hang:hang=2s:space=lg*", {"route": "*", "fault": "hang", "hang": "2s", "space": "lg*"}),
        (
            "metadata:500:id=flaky:method=GET",
            {"route": "metadata", "status": 500, "id": "flaky", "method": "GET"},
        ),
        ("links:503:optional=true", {"route": "links", "status": 503, "optional": True}),
        ("links:503:optional=false", {"route": "links", "status": 503, "optional": False}),
    ],
)
def test_spec_grammar(spec: str, rule: dict[str, Any]) -> None:
    assert parse_spec(spec) == rule
    FaultSet().add(rule)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        # A number says the statuses there are (999 was the schema's "greater than the
        # maximum of 599", 4299 "not a status (such as 503), a fault (…) or key=value").
        ("traits:42", "`42` is not a status: statuses are 200 to 599, such as 503"),
        ("traits:4299", "`4299` is not a status: statuses are 200 to 599, such as 503"),
        ("traits:999", "`999` is not a status: statuses are 200 to 599, such as 503"),
        ("traits:199", "`199` is not a status: statuses are 200 to 599, such as 503"),
        (
            "traits:explode",
            "`explode` is not a status (statuses are 200 to 599, such as 503), a fault (reset,",
        ),
        ("traits:500:colour=red", "unknown key `colour`; keys are after, collection, every"),
        ("traits:500:times=two", "`times` must be a whole number, got `two`"),
        # Each was read as something else, without a word: the second status replaced the
        # first, `nan` made a rule that never fires, int() read `1_0` and `٣`.
        ("traits:429:500", "`status` is given twice; give it once"),
        ("traits:reset:empty", "`fault` is given twice; give it once"),
        ("traits:500:times=1:times=2", "`times` is given twice; give it once"),
        ("traits:500:times=1.5", "`times` must be a whole number, got `1.5`"),
        ("traits:500:times=1_0", "`times` must be a whole number, got `1_0`"),
        ("traits:500:after=\u0663", "`after` must be a whole number, got `\u0663`"),
        ("traits:500:probability=nan", "`probability` must be a number above 0 and at most 1"),
        ("traits:500:probability=1e-3", "`probability` must be a number above 0 and at most 1"),
        ("traits:500:optional=yes", "`optional` must be true or false, got `yes`"),
        # Was "`optional` is not a status (…), a fault (…) or key=value": a key, valueless.
        ("traits:500:optional", "`optional` is a key, written optional=VALUE (true or false)"),
        ("traits:latency", "`latency` is a key, written latency=VALUE (a duration such as 150ms"),
        # A mistyped key was told the keys there are, and no more; a header, that it was none.
        ("traits:429:time=2", "identifier; did you mean `times`?"),
        (
            "traits:429:retry-after=2",
            "identifier (a header? headers are no part of a spec: give them beside one, as"
            " fault('traits:503', headers={'Retry-After': '2'}), or write the rule as a mapping)",
        ),
        ("traits:429:X-Trace=1", "identifier (a header? headers are no part of a spec"),
        # A key in capitals was asked whether it was a header; `identifier` and the fields a
        # spec writes otherwise, valueless, were told only what a field may be.
        ("traits:429:Times=2", "identifier; did you mean `times`?"),
        ("traits:429:identifier", "`identifier` is a key, written identifier=VALUE (a profile's"),
        ("traits:429:headers", "or key=value (headers are no part of a spec: give them beside"),
        ("traits:status", "or key=value (a status stands alone: traits:503)"),
        # Was "`u1234` is not a status …": the route is what is wrong, and the id goes last.
        (
            "user_id:u1234",
            "no route is called `user_id`; routes are *, traits, external_ids, events, metadata,"
            " links, profiles (the spec starts with one: ROUTE[:FIELD]...; a profile's id goes"
            " last, as identifier=TYPE:VALUE)",
        ),
        ("trait:503", "no route is called `trait`; routes are *, traits,"),
        # Was only "unknown key `status`; keys are after, collection, …", the table's fields.
        ("traits:status=503", "identifier (a status stands alone: traits:503)"),
        ("traits:fault=reset", "identifier (a fault stands alone: traits:reset)"),
        ("*:route=traits:503", "identifier (the route comes first: traits:503)"),
        ("traits:503:headers=x", "identifier (headers are no part of a spec: give them beside"),
    ],
)
def test_bad_specs_say_what_is_allowed(spec: str, message: str) -> None:
    with pytest.raises(FaultRuleError, match="^--fault `" + spec.replace("*", r"\*") + "`: .*"):
        parse_spec(spec)
    with pytest.raises(FaultRuleError) as info:
        parse_spec(spec)
    assert message in str(info.value)
    # Given elsewhere than on the command line, the spec's errors say where.
    with pytest.raises(FaultRuleError) as info:
        parse_spec(spec, "fault: spec")
    assert str(info.value).startswith(f"fault: spec `{spec}`: ")
    assert message in str(info.value)


def test_how_long_to_hang_without_the_hang_fault_says_it_goes_with_it() -> None:
    # Was "give `status`, `latency` or `fault` (what should happen?)", of a rule that said.
    with pytest.raises(FaultRuleError, match=r"^fault rule: `hang` \(how long\) goes with"):
        FaultSet().add({"route": "traits", "hang": "5s"})
    # A spec is told how a spec writes it ("goes with `fault: hang`" is a mapping's words).
    with pytest.raises(FaultRuleError) as told:
        parse_spec("traits:hang=5s")
    assert str(told.value) == (
        "--fault `traits:hang=5s`: `hang=5s` is how long a `hang` fault holds the request;"
        " give the fault too: traits:hang:hang=5s"
    )
    with pytest.raises(FaultRuleError, match=r"and this rule's fault is `reset`$"):
        parse_spec("traits:reset:hang=5s")
    # The suggestion dropped the 503 without a word (a 503 after a while was meant, likely).
    with pytest.raises(FaultRuleError) as told:
        parse_spec("traits:503:hang=5s")
    assert str(told.value).endswith(
        "which answers nothing: a 503 after 5s is traits:503:latency=5s; a hang,"
        " traits:hang:hang=5s"
    )
    with pytest.raises(FaultRuleError, match=r"^fault rule: give `status`, `latency` or"):
        FaultSet().add(parse_spec("traits:times=2"))


def test_a_mistyped_field_of_a_rule_written_as_a_mapping_is_offered_the_one_meant() -> None:
    # The spec form offered it (`identifer`); the mapping form listed the fields alone.
    with pytest.raises(FaultRuleError) as told:
        FaultSet().add({"route": "traits", "stauts": 503})
    assert str(told.value).startswith("fault rule field `stauts`: unknown field `stauts`;")
    assert str(told.value).endswith("; did you mean `status`?")


def test_optional_is_read_from_every_form_of_a_rule() -> None:
    faults = FaultSet()
    assert faults.add(parse_spec("links:503:optional=true")).optional is True
    assert faults.add({"status": 503, "optional": True}).optional is True
    assert faults.add({"status": 503}).optional is False
    assert [rule.as_dict()["optional"] for rule in faults] == [True, True, False]


@pytest.mark.parametrize("status", [204, 205, 304])
@pytest.mark.parametrize("body", ["", {"error": "x"}])
def test_a_body_with_a_status_that_carries_none_is_refused(status: int, body: Any) -> None:
    # It was accepted and dropped without a word (204, 304) or sent against RFC 9110 (205).
    with pytest.raises(
        FaultRuleError,
        match=re.escape(
            "`body` cannot be sent with status 204, 205 or 304 (those answers carry no body)"
        ),
    ):
        FaultSet().add({"route": "traits", "status": status, "body": body})


@pytest.mark.parametrize("spec", ["traits:200", "traits:201", "*:299:times=1"])
def test_a_2xx_status_without_a_body_is_refused(spec: str) -> None:
    # It answered 200 with {"error": {"code": "invalid_request_error", "message": "OK"}}.
    with pytest.raises(FaultRuleError, match=re.escape("give the `body` to answer with")):
        FaultSet().add(parse_spec(spec))
    FaultSet().add({"route": "traits", "status": 200, "body": {"traits": {}}})
    FaultSet().add({"route": "traits", "status": 204})


REDIRECT = "a redirect (301, 302, 303, 307, 308) without a `Location` is not a redirect"


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_without_a_location_is_refused(status: int, write_fixture: WriteFixture) -> None:
    # It answered 302 with {"error": {..., "message": "Found"}} and no Location to follow.
    for rule in (parse_spec(f"traits:{status}"), {"status": status, "headers": {"X": "1"}}):
        with pytest.raises(FaultRuleError, match=re.escape(REDIRECT)) as info:
            FaultSet().add(rule)
        assert "give where it leads, as `headers: {Location: ...}`" in str(info.value)
    with pytest.raises(FaultRuleError, match=re.escape("`headers.Location`: is empty")):
        FaultSet().add({"status": status, "headers": {"Location": ""}})
    problems = refused(
        write_fixture,
        f"spaces: {{sp: {{tokens: [t], users: [{{ids: {{user_id: u}}}}]}}}}\n"
        f"faults:\n  - {{route: traits, status: {status}}}\n",
    )
    assert problems == [f"F:3:5: {REDIRECT}: give where it leads, as `headers: {{Location: ...}}`"]
    # Any case of the name, as HTTP reads it; 300 and 304 need no Location.
    FaultSet().add({"status": status, "headers": {"location": "/v1/elsewhere"}})
    FaultSet().add({"status": 300})
    FaultSet().add({"status": 304})


def test_a_status_that_is_no_number_is_refused_as_such() -> None:
    # It was "a 2xx status is no error, ...": a string passed the 2xx check's bounds.
    with pytest.raises(FaultRuleError, match=re.escape('field `status`: "x" is not an integer')):
        FaultSet().add({"route": "traits", "status": "x"})


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        # Python's `$` matched before a last newline, so these were taken, and every
        # answer the rule fired on broke in aiohttp instead of being sent.
        ({"Retry-After": "2\n"}, "`headers.Retry-After`: must be a string (a number as text"),
        # The field named on the message's one line (it was `headers.Retry-After⏎`).
        ({"Retry-After\n": "2"}, 'field "headers.Retry-After\\n": field "Retry-After\\n" is not'),
        # Was "the value holds a line break, a control character, …": it held a number.
        ({"Retry-After": 2}, '`headers.Retry-After`: must be a string (a number as text: "2"'),
    ],
)
def test_a_header_that_cannot_be_sent_is_refused_saying_what_is_allowed(
    headers: dict[str, Any], message: str
) -> None:
    with pytest.raises(FaultRuleError, match=re.escape(message)):
        FaultSet().add({"route": "traits", "status": 429, "headers": headers})


def test_a_fixture_name_ending_in_a_newline_is_a_problem_at_its_line(
    write_fixture: WriteFixture,
) -> None:
    # jsonschema-rs refused it, then jsonschema found no problem to explain: loaded.
    assert refused(
        write_fixture, 'spaces: {"sp\\n": {tokens: [t], users: [{ids: {user_id: u}}]}}\n'
    ) == [
        'F:1:10: key "sp\\n" is not allowed here; expected a space id: letters, digits, `_` and `-`'
    ]


@pytest.mark.parametrize(
    ("data", "got"),
    [
        ([{"status": 503}], 'a list ([{"status": 503}])'),
        (None, "null"),
        ("traits:503", 'a string ("traits:503")'),
    ],
)
def test_a_rule_that_is_no_object_is_named_in_json_words(data: Any, got: str) -> None:
    with pytest.raises(FaultRuleError, match=re.escape(f"a fault rule is an object, got {got}")):
        FaultSet().add(data)


def test_fixture_faults_apply_from_the_start(write_fixture: WriteFixture) -> None:
    path = write_fixture(
        "faults:\n  - {route: traits, status: 503, times: 1}\n"
        "spaces: {sp: {tokens: [t], users: [{ids: {user_id: u}}]}}\n"
    )
    store = load_fixtures([path], Clock(NOW))
    assert store.faults == ({"route": "traits", "status": 503, "times": 1},)
    state = create_app(store, Clock(NOW))[STATE]
    assert [rule.id for rule in state.faults] == ["fault-1"]


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ("[{route: traits}]", "F:2:10: give `status`, `latency` or `fault`"),
        (
            "[{status: 500, fault: reset}]",
            "F:2:10: `status` and `fault` cannot be combined",
        ),
        ("[{status: 99}]", "F:2:11: 99 is less than the minimum of 200"),
        (
            "[{status: 500, hang: 1s}]",
            "F:2:10: `hang` (how long) goes with `fault: hang`",
        ),
    ],
)
def test_bad_fixture_faults_name_file_and_line(
    write_fixture: WriteFixture, rules: str, message: str
) -> None:
    first, *_ = refused(write_fixture, f"spaces: {{sp: {{tokens: [t]}}}}\nfaults: {rules}\n")
    assert first.startswith(message)


@pytest.mark.parametrize(
    ("rule", "shown"),
    [("42", "42"), ("[traits]", '["traits"]'), ("null", "null")],
)
def test_a_fixture_fault_that_is_no_mapping_is_one_problem(
    write_fixture: WriteFixture, rule: str, shown: str
) -> None:
    # Not also "`status` and `fault` cannot be combined" and the like: the rules across
    # fields are about a mapping's keys, and this has none.
    problems = refused(write_fixture, f"spaces: {{sp: {{tokens: [t]}}}}\nfaults: [{rule}]\n")
    assert problems == [f"F:2:10: {shown} is not an object"]


@pytest.mark.parametrize(
    ("rule", "said"),
    [
        (
            '"traits:429:times=2"',
            "not a --fault spec: this one as a mapping is"
            ' {"route": "traits", "status": 429, "times": 2}',
        ),
        ('"user_id:u1"', 'such as {"route": "traits", "status": 503}'),
    ],
    ids=["spec", "no-spec"],
)
def test_a_fixture_fault_written_as_a_spec_is_shown_as_the_mapping_it_means(
    write_fixture: WriteFixture, rule: str, said: str
) -> None:
    # It said `"traits:503" is not an object`, without a word of the form a file takes.
    problems = refused(write_fixture, f"spaces: {{sp: {{tokens: [t]}}}}\nfaults:\n  - {rule}\n")
    assert problems == [f"F:3:5: {rule} is not an object: a fault rule here is a mapping, {said}"]


@pytest.mark.parametrize(
    ("faults", "said"),
    [
        (
            '"traits:503"',
            '"traits:503" is not a list: `faults` lists fault rules, each a mapping, not a'
            ' --fault spec: this one as a mapping is {"route": "traits", "status": 503}',
        ),
        (
            "{route: traits, status: 503}",
            '{"route": "traits", "status": 503} is not a list: `faults` lists fault rules;'
            " give this one as its only item",
        ),
    ],
    ids=["spec", "mapping"],
)
def test_one_fixture_fault_rule_where_the_list_goes_says_how_to_list_it(
    write_fixture: WriteFixture, faults: str, said: str
) -> None:
    assert refused(write_fixture, f"spaces: {{sp: {{tokens: [t]}}}}\nfaults: {faults}\n") == [
        f"F:2:1: {said}"
    ]


def test_a_fixture_fault_rule_of_no_space_is_a_problem_of_its_file_and_line(
    write_fixture: WriteFixture,
) -> None:
    # It loaded, and never fired (a fixture's rule need not, so nothing ever said so).
    rules = write_fixture(
        "faults:\n  - {route: traits, status: 503, space: other}\n"
        "  - {route: traits, status: 503, space: prod}\n",
        "rules.yaml",
    )
    spaces = write_fixture("spaces: {sp: {tokens: [t]}, other: {tokens: [u]}}\n")
    with pytest.raises(FixtureError) as info:
        load_fixtures([rules, spaces], Clock(NOW))
    problems = [str(p).replace(str(rules), "F") for p in info.value.problems]
    assert problems == [
        "F:3:5: fault rule field `space`: `prod` matches no space of the fixtures; spaces are"
        " sp, other"
    ]


def test_a_rule_of_no_space_among_many_names_a_few_and_the_closest(
    write_fixture: WriteFixture,
) -> None:
    # It listed all 1,200 spaces: one line of some 11,000 characters.
    spaces = ", ".join(f"space{n}: {{tokens: [t{n}]}}" for n in range(1200))
    path = write_fixture(
        f"spaces: {{{spaces}}}\nfaults: [{{route: traits, status: 503, space: spcae7}}]\n"
    )
    with pytest.raises(FixtureError) as info:
        load_fixtures([path], Clock(NOW))
    assert [p.message for p in info.value.problems] == [
        "fault rule field `space`: `spcae7` matches no space of the fixtures; spaces are space0,"
        " space1, space2, space3, space4, space5, … (1,200 in all); did you mean `space7`?"
    ]


def test_serve_refuses_a_fault_flag_of_no_space() -> None:
    # A child, not in process: a serve that took the flag would serve on, not return.
    served = subprocess.run(
        [sys.executable, "-m", "profilemock", "serve", "--port", "0", "--fault",
         "traits:503:space=nope"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert (served.returncode, served.stdout) == (2, "")
    assert served.stderr == (
        "profilemock: error: --fault `traits:503:space=nope`: fault rule field `space`: `nope`"
        " matches no space of the fixtures; spaces are lg8283283\n"
    )


def test_rate_limit_in_fixture_is_checked(write_fixture: WriteFixture) -> None:
    path = write_fixture("spaces: {sp: {tokens: [t], rate_limit: -5}}\n")
    with pytest.raises(FixtureError, match="rate_limit"):
        load_fixtures([path], Clock(NOW))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fault", "traits:42"], "profilemock: error: --fault `traits:42`: `42` is not a status"),
        (
            ["--fault", "trait:500"],
            "profilemock: error: --fault `trait:500`: no route is called `trait`; routes are"
            " *, traits,",
        ),
    ],
)
def test_cli_refuses_bad_fault_specs(args: list[str], message: str) -> None:
    code, _, err = run_cli("serve", "--port", "0", *args)
    assert code == 2
    assert err.startswith(message)


def test_cli_refuses_a_bad_rate_limit() -> None:
    with pytest.raises(SystemExit) as info:
        run_cli("serve", "--rate-limit", "fast")
    assert info.value.code == 2


def test_a_default_id_skips_one_a_rule_was_given() -> None:
    faults = FaultSet()
    assert faults.add({"route": "traits", "status": 503, "id": "fault-2"}).id == "fault-2"
    # The second rule would be fault-2 by count: taken, so the next free one.
    assert faults.add({"route": "events", "status": 503}).id == "fault-3"
    assert faults.add({"route": "links", "status": 503}).id == "fault-4"
    with pytest.raises(FaultRuleError, match="id `fault-2` exists already"):
        faults.add({"route": "links", "status": 503, "id": "fault-2"})


def test_a_rule_kept_by_a_replace_shares_its_id_with_no_new_one() -> None:
    # A rule written again as it was keeps its id; a new rule named with that default id
    # (or given it by default, the kept one's not yet back) stood beside it under the same
    # id, which a DELETE of it removed both of.
    rules = FaultSet()
    traits, links, events = ({"route": r, "status": 503} for r in ("traits", "links", "events"))
    ids = [rules.add(rule, origin="fixtures").id for rule in (traits, links)]
    named = {**events, "id": "fault-2"}
    assert rules.replace(ids, [named, links], "fixtures") == ["fault-2", "fault-4"]
    rules = FaultSet()
    ids = [rules.add(rule, origin="fixtures").id for rule in (traits, {**links, "id": "fault-3"})]
    new = [traits, events, events, {**links, "id": "fault-3"}]
    assert rules.replace(ids, new, "fixtures") == ["fault-1", "fault-4", "fault-5", "fault-3"]


def test_a_rule_whose_id_was_taken_away_or_given_is_changed_not_kept() -> None:
    # `id: mine` removed from the files (the rule otherwise as it was) kept `mine` after the
    # reload, which a start of the same files numbers `fault-1`; and the other way round.
    rules = FaultSet()
    traits = {"route": "traits", "status": 503}
    ids = [rules.add({**traits, "id": "mine"}, origin="fixtures").id]
    assert rules.replace(ids, [traits], "fixtures") == ["fault-2"]
    assert rules.replace(["fault-2"], [{**traits, "id": "mine"}], "fixtures") == ["mine"]


def test_a_rule_an_earlier_one_fired_before_says_so_not_only_that_it_matched_nothing() -> None:
    # A baseline latency of the fixtures fires on every request: the test's rule behind it
    # is never asked, and "matched no request" alone sent the reader to their own code.
    faults = FaultSet()
    faults.add({"route": "*", "latency": "5ms"}, origin="fixtures")
    armed = faults.add({"route": "traits", "status": 503, "times": 1})
    other = faults.add({"route": "events", "status": 503})
    for _ in range(2):
        fired = faults.pick("traits", "GET", "s", "users", "user_id:u1")
        assert fired is not None
        assert fired.id == "fault-1"
    assert armed.unused() == (
        "matched no request; requests it matches went to `fault-1` of the fixture files, an"
        " earlier rule that fired on them first (rules are tried in order; the first that"
        " fires answers)"
    )
    assert other.unused() == "matched no request"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"probability": float("nan")},
            "fault rule field `probability`: `nan` is not a finite number (JSON has none)",
        ),
        (
            {"body": {"a": float("inf")}},
            "fault rule field `body.a`: `inf` is not a finite number (JSON has none)",
        ),
        ({"body": {"a": {1}}}, "fault rule field `body.a`: a set ({1}) is not a JSON value"),
        # A key of the rule itself: it named the field ``.
        ({(1, 2): 3}, "fault rule: the key `(1, 2)` is not a string"),
    ],
)
def test_a_rule_from_python_holds_only_what_json_can_write(
    extra: dict[str, Any], message: str
) -> None:
    # NaN passed every bound of the schema: a `probability` of NaN made a rule that never
    # fired; a NaN in a `body` was answered as `NaN`, which is no JSON.
    with pytest.raises(FaultRuleError) as raised:
        FaultSet().add({"route": "traits", "status": 500, **extra})
    assert str(raised.value).startswith(message)
