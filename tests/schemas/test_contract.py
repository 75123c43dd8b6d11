"""The response schemas accept every real and documented body and reject broken ones."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from profilemock.schemas import (
    BODIES,
    UnknownEndpoint,
    assert_valid,
    assert_valid_response,
    endpoint_for_url,
    registry,
    validate,
    validate_response,
)

DATA = Path(__file__).resolve().parent.parent / "data"

# Every body in tests/data (see SOURCES.md there; the reference's malformed JSON was
# repaired minimally), with the endpoint and status it answered.
REAL_BODIES = [
    ("segdocs_traits_quickstart_200.json", "traits", False, 200),
    ("segdocs_traits_200.json", "traits", False, 200),
    ("segdocs_traits_verbose_200.json", "traits", True, 200),
    ("segdocs_external_ids_200.json", "external_ids", False, 200),
    ("segdocs_events_200.json", "events", False, 200),
    ("segdocs_metadata_200.json", "metadata", False, 200),
    ("segdocs_links_user_to_accounts_200.json", "links", False, 200),
    ("segdocs_error_not_found_404.json", "error", False, 404),
    ("segdocs_error_validation_400.json", "error", False, 400),
    ("segdocs_engage_audience_trait_include_200.json", "traits", False, 200),
    ("segdocs_computed_trait_include_200.json", "traits", False, 200),
    ("segdocs_engage_faq_audience_membership_200.json", "traits", False, 200),
    ("split_harness_traits_200.json", "traits", False, 200),
    ("split_harness_links_user_to_accounts_200.json", "links", False, 200),
    ("gist_asunwoo_2018_traits_200.json", "traits", False, 200),
    ("gist_asunwoo_2018_external_ids_200.json", "external_ids", False, 200),
    ("MOCK_segment_edge_sdk_testmock_traits_class_audience_200.json", "traits", False, 200),
    ("MOCK_segment_edge_sdk_testmock_404.json", "error", False, 404),
]
# Real-world variants DESIGN.md names that no captured body shows.
VARIANTS = [
    ("events", {"data": None, "cursor": {"url": "", "has_more": False, "next": ""}}),
    (
        "metadata",
        {
            "segment_id": "use_x",
            "metadata": {
                "created_at": "2020-01-01T00:00:00Z",
                "updated_at": "2020-01-01T00:00:00.123456789Z",
            },
        },
    ),
    (
        "traits",
        {
            "traits": {},
            "cursor": {
                "url": "https://profiles.euw1.segment.com/v1/spaces/s/collections/users/profiles/user_id:1/traits?next=b",
                "has_more": True,
                "next": "b",
            },
        },
    ),
]


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


@pytest.mark.parametrize(
    ("name", "endpoint", "verbose", "status"), REAL_BODIES, ids=[r[0] for r in REAL_BODIES]
)
def test_every_real_and_documented_body_is_valid(
    name: str, endpoint: str, verbose: bool, status: int
) -> None:
    assert validate(load(name), endpoint, verbose=verbose) == []


@pytest.mark.parametrize(("endpoint", "body"), VARIANTS, ids=[v[0] for v in VARIANTS])
def test_real_world_variants_are_valid_even_strictly(endpoint: str, body: Any) -> None:
    assert validate(body, endpoint, strict=True) == []


def test_strict_mode_reports_placeholder_timestamps_of_the_docs() -> None:
    violations = validate(
        load("segdocs_traits_verbose_200.json"), "traits", verbose=True, strict=True
    )
    assert {v.pointer for v in violations} == {
        "/traits/first_name/updated_at",
        "/traits/emails_opened_last_30_days/updated_at",
    }
    assert {v.rule for v in violations} == {"format"}


@pytest.mark.parametrize("strict", [False, True])
def test_a_cursor_with_more_and_nowhere_to_ask_breaks_the_contract(strict: bool) -> None:
    # It passed, even strictly: a client can do nothing with it (the recorder wrote such a
    # list short).
    body = {"data": [], "cursor": {"url": "", "has_more": True, "next": ""}}
    assert [(v.pointer, v.message) for v in validate(body, "events", strict=strict)] == [
        (
            "/cursor",
            "`has_more` is true but the cursor gives no `next` and no `url` to ask for the"
            " next page with",
        )
    ]
    body["cursor"] = {"has_more": True, "url": "/v1/spaces/s/collections/users/profiles"}
    assert validate(body, "events", strict=strict) == []


def test_a_lone_surrogate_in_a_checked_field_is_a_violation_not_an_exception() -> None:
    # jsonschema-rs cannot take it (no Rust string): strict validation raised
    # UnicodeEncodeError, a traceback from the validating proxy.
    body = json.loads(
        '{"data":[{"id":"a","type":"user_id","source_id":"x","collection":"users",'
        '"created_at":"2024-01-01T00:00:00\\ud800","encoding":"none"}],'
        '"cursor":{"url":"","has_more":false,"next":""}}'
    )
    [violation] = validate(body, "external_ids", strict=True)
    assert (violation.pointer, violation.rule) == ("/data/0/created_at", "format")
    assert str(violation).encode()  # a line UTF-8 takes


def test_strict_mode_reports_undocumented_fields() -> None:
    body = load("segdocs_metadata_200.json")
    body["metadata"]["merged_into"] = "use_other"
    body["experimental"] = True
    assert validate(body, "metadata") == []
    assert [(v.pointer, v.rule) for v in validate(body, "metadata", strict=True)] == [
        ("/experimental", "additionalProperties"),
        ("/metadata/merged_into", "additionalProperties"),
    ]


def test_strict_mode_names_the_fields_an_event_may_have_and_no_other() -> None:
    # An event's fields were made strict as if they were a schema (one is named
    # `properties`): they gained one named `additionalProperties`, listed as "allowed
    # here", and refused in a body as "False schema does not allow 1".
    body = load("segdocs_events_200.json")
    body["data"][0]["received_at"] = "2018-01-05T00:16:36Z"
    body["data"][0]["additionalProperties"] = 1
    allowed = (
        "context, event, external_ids, group_id, message_id, name, previous_id, properties,"
        " related, source_id, timestamp, traits, type"
    )
    assert [(v.pointer, v.rule, v.message) for v in validate(body, "events", strict=True)] == [
        (
            f"/data/0/{name}",
            "additionalProperties",
            f"unknown field `{name}`; allowed here: {allowed}",
        )
        for name in ("additionalProperties", "received_at")
    ]
    event = registry(strict=True).contents("https://profilemock.dev/schemas/common.schema.json")
    assert "additionalProperties" not in event["$defs"]["event"]["properties"]


def mutate(body: Any, pointer: str, value: Any = ..., delete: bool = False) -> Any:
    changed = copy.deepcopy(body)
    *parents, last = [int(p) if p.isdigit() else p for p in pointer.strip("/").split("/")]
    target = changed
    for part in parents:
        target = target[part]
    if delete:
        del target[last]
    else:
        target[last] = value
    return changed


NEGATIVE: list[tuple[str, str, bool, str, Any, str, str]] = [
    # (file, endpoint, verbose, pointer to change, new value or None to delete, expected pointer,
    # rule)
    ("segdocs_traits_quickstart_200.json", "traits", False, "/traits", [], "/traits", "type"),
    (
        "segdocs_traits_quickstart_200.json",
        "traits",
        False,
        "/cursor/has_more",
        "yes",
        "/cursor/has_more",
        "type",
    ),
    (
        "segdocs_traits_quickstart_200.json",
        "traits",
        False,
        "/cursor/has_more",
        None,
        "/cursor",
        "required",
    ),
    ("segdocs_traits_quickstart_200.json", "traits", False, "/cursor", "next", "/cursor", "type"),
    (
        "segdocs_traits_quickstart_200.json",
        "traits",
        False,
        "/cursor/limit",
        0,
        "/cursor/limit",
        "minimum",
    ),
    (
        "segdocs_traits_verbose_200.json",
        "traits",
        True,
        "/traits/first_name/value",
        None,
        "/traits/first_name",
        "required",
    ),
    (
        "segdocs_traits_verbose_200.json",
        "traits",
        True,
        "/traits/first_name",
        "Bob",
        "/traits/first_name",
        "type",
    ),
    (
        "segdocs_external_ids_200.json",
        "external_ids",
        False,
        "/data/0/collection",
        "groups",
        "/data/0/collection",
        "enum",
    ),
    (
        "segdocs_external_ids_200.json",
        "external_ids",
        False,
        "/data/0/id",
        None,
        "/data/0",
        "required",
    ),
    (
        "segdocs_external_ids_200.json",
        "external_ids",
        False,
        "/cursor/next",
        7,
        "/cursor/next",
        "type",
    ),
    ("segdocs_events_200.json", "events", False, "/data", {}, "/data", "type"),
    ("segdocs_events_200.json", "events", False, "/data/0/message_id", None, "/data/0", "required"),
    (
        "segdocs_events_200.json",
        "events",
        False,
        "/data/0/properties",
        [],
        "/data/0/properties",
        "type",
    ),
    (
        "segdocs_metadata_200.json",
        "metadata",
        False,
        "/metadata/expires_at",
        5,
        "/metadata/expires_at",
        "type",
    ),
    ("segdocs_metadata_200.json", "metadata", False, "/metadata", None, "", "required"),
    (
        "segdocs_links_user_to_accounts_200.json",
        "links",
        False,
        "/data/0/to_collection",
        "teams",
        "/data/0/to_collection",
        "enum",
    ),
    (
        "segdocs_links_user_to_accounts_200.json",
        "links",
        False,
        "/data/1/external_ids/0/type",
        None,
        "/data/1/external_ids/0",
        "required",
    ),
    ("segdocs_error_not_found_404.json", "error", False, "/error/code", None, "/error", "required"),
    ("segdocs_error_not_found_404.json", "error", False, "/error", "not_found", "/error", "type"),
]


@pytest.mark.parametrize(
    ("name", "endpoint", "verbose", "where", "value", "pointer", "rule"),
    NEGATIVE,
    ids=[f"{n[1]}{n[3]}={json.dumps(n[4])}" for n in NEGATIVE],
)
def test_broken_bodies_are_rejected_at_the_right_pointer(
    name: str, endpoint: str, verbose: bool, where: str, value: Any, pointer: str, rule: str
) -> None:
    body = (
        mutate(load(name), where, delete=value is None)
        if value is None
        else mutate(load(name), where, value)
    )
    violations = validate(body, endpoint, verbose=verbose)
    assert (pointer, rule) in [(v.pointer, v.rule) for v in violations], violations


@pytest.mark.parametrize("endpoint", BODIES)
def test_extra_field_is_rejected_in_strict_mode_only(endpoint: str) -> None:
    bodies: dict[str, dict[str, Any]] = {
        "traits": {"traits": {}},
        "external_ids": {"data": []},
        "events": {"data": None},
        "metadata": {
            "metadata": {"created_at": "2020-01-01T00:00:00Z", "updated_at": "2020-01-01T00:00:00Z"}
        },
        "links": {"data": []},
        "profiles": {"data": []},
        "error": {"error": {"code": "not_found", "message": "Profile was not found."}},
    }
    body = bodies[endpoint]
    body["cursor_v2"] = {}
    assert validate(body, endpoint) == []
    (violation,) = validate(body, endpoint, strict=True)
    assert (violation.pointer, violation.rule) == ("/cursor_v2", "additionalProperties")
    assert violation.message.startswith("unknown field `cursor_v2`; allowed here: ")


@pytest.mark.parametrize(
    ("url", "endpoint", "verbose"),
    [
        (
            "https://profiles.segment.com/v1/spaces/lg/collections/users/profiles/user_id:1/traits",
            "traits",
            False,
        ),
        (
            "https://profiles.euw1.segment.com/v1/spaces/lg/collections/users/profiles/user_id:1/traits?verbose=true",
            "traits",
            True,
        ),
        (
            "http://127.0.0.1:4010/v1/spaces/lg/collections/accounts/profiles/group_id:1/links?next=x",
            "links",
            False,
        ),
        ("/v1/spaces/lg/collections/users/profiles/use_abc/events", "events", False),
        (
            "/v1/spaces/lg/collections/users/profiles/user_id:a%2Fb/external_ids",
            "external_ids",
            False,
        ),
        (
            "https://profiles.segment.com/v1/spaces/lg/collections/users/profiles?limit=5",
            "profiles",
            False,
        ),
        (
            "https://profiles.segment.com/v1/namespaces/ns/collections/users/profiles/user_id:1/metadata",
            "metadata",
            False,
        ),
    ],
)
def test_endpoint_is_found_from_any_host(url: str, endpoint: str, verbose: bool) -> None:
    target = endpoint_for_url(url)
    assert (target.endpoint, target.verbose) == (endpoint, verbose)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/v1/things",
        "https://profiles.segment.com/v1/spaces/lg/collections/users/profiles/user_id:1/properties",
    ],
)
def test_unknown_urls_are_refused(url: str) -> None:
    with pytest.raises(UnknownEndpoint):
        endpoint_for_url(url)


def test_validate_response_uses_the_error_schema_for_errors() -> None:
    url = "https://profiles.segment.com/v1/spaces/lg/collections/users/profiles/user_id:1/traits"
    assert validate_response(url, 404, load("segdocs_error_not_found_404.json")) == []
    assert validate_response(url, 200, load("segdocs_error_not_found_404.json")) != []
    assert validate_response(url, 500, {"traits": {}}) != []


def test_assert_valid_lists_every_violation() -> None:
    body = {"traits": [], "cursor": {"has_more": "no"}}
    with pytest.raises(AssertionError) as info:
        assert_valid(body, "traits")
    message = str(info.value)
    assert "2 violations" in message
    assert "/traits: [] is not an object [type]" in message
    assert '/cursor/has_more: "no" is not true or false [type]' in message
    assert_valid(load("segdocs_traits_200.json"), "traits")
    with pytest.raises(AssertionError, match="the response to /v1/"):
        assert_valid_response("/v1/spaces/s/collections/users/profiles/user_id:1/links", 200, {})


def test_unknown_endpoint_name_is_refused() -> None:
    with pytest.raises(UnknownEndpoint, match="endpoints are traits, external_ids"):
        validate({}, "properties")


def test_pure_python_validation_agrees_with_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without jsonschema-rs every answer comes from jsonschema alone, and is the same."""
    from profilemock.schemas import validation

    cases = [
        (load(name), endpoint, verbose, strict)
        for name, endpoint, verbose, _ in REAL_BODIES
        for strict in (False, True)
    ]
    cases += [
        (mutate(load(n), w, delete=v is None) if v is None else mutate(load(n), w, v), e, vb, False)
        for n, e, vb, w, v, _, _ in NEGATIVE
    ]
    fast = [
        validate(body, endpoint, verbose=verbose, strict=strict)
        for body, endpoint, verbose, strict in cases
    ]
    monkeypatch.setattr(validation, "fast_validator", lambda name, strict=False: None)
    pure = [
        validate(body, endpoint, verbose=verbose, strict=strict)
        for body, endpoint, verbose, strict in cases
    ]
    assert fast == pure
    assert any(fast)


def test_a_timestamp_in_digits_of_another_script_is_no_date_time() -> None:
    # RFC3339's `\d` took `٢٠٢٤`, which no client's date parser reads.
    body = load("segdocs_external_ids_200.json")
    body["data"][0]["created_at"] = "٢٠٢٤-05-01T00:00:00Z"
    violations = validate(body, "external_ids", strict=True)
    assert [(v.pointer, v.rule) for v in violations] == [("/data/0/created_at", "format")]


def test_a_timestamp_with_a_newline_after_it_is_no_date_time() -> None:
    # RFC3339's `$` matched before the last newline.
    body = load("segdocs_external_ids_200.json")
    body["data"][0]["created_at"] = "2024-05-01T00:00:00Z\n"
    violations = validate(body, "external_ids", strict=True)
    assert [(v.pointer, v.rule) for v in violations] == [("/data/0/created_at", "format")]


@pytest.mark.parametrize("status", [100, 204, 302, 304])
def test_validate_response_refuses_a_status_whose_answer_holds_no_body_of_the_api(
    status: int,
) -> None:
    # The endpoint's schema checked it: a redirect's page with `traits` passed as traits.
    url = "https://profiles.segment.com/v1/spaces/s/collections/users/profiles/user_id:u/traits"
    with pytest.raises(ValueError, match=f"a {status} answer holds no body of the API to check"):
        validate_response(url, status, {"traits": {}})
