# Property tests of a consumer's own code with profilemock.strategies: the service against
# any profile (through the fake), its parsing against any body the API may send, and
# against bodies that drifted from the contract.
import contextlib
from urllib.parse import quote

import requests
from hypothesis import HealthCheck, given, settings

from profilemock.strategies import drifted_responses, profiles, responses


class UnexpectedAnswer(Exception):
    """What the service raises for a body it cannot read."""


def trait_names(body: object) -> list[str]:
    """The service's parsing code: the trait names of a /traits body."""
    traits = body.get("traits") if isinstance(body, dict) else None
    if not isinstance(traits, dict):
        raise UnexpectedAnswer(f"no traits object in {body!r:.80}")
    return sorted(traits)


def display_name(base_url: str, space_id: str, token: str, identifier: str) -> str:
    """The service: greet a user by first name, whatever the profile holds."""
    url = (
        f"{base_url}/v1/spaces/{space_id}/collections/users/profiles/"
        f"{quote(identifier, safe=':@')}/traits"
    )
    response = requests.get(url, auth=(token, ""), timeout=5)
    response.raise_for_status()
    name = response.json()["traits"].get("first_name")
    return name if isinstance(name, str) and name.strip() else "there"


# Each example is a profile added to the fake, or a body the fake made: slower to draw
# than plain data, hence too_slow off and no deadline.
SLOW = [HealthCheck.too_slow]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[*SLOW, HealthCheck.function_scoped_fixture],
)
@given(profile=profiles())
def test_any_user_gets_a_greeting(profile_api, profile):
    profile_api.reset()  # one fake for every example: start each from the fixtures
    # (a reset raises what broke the fake in the example before: nothing is dropped)
    profile_api.add_user(**profile)
    id_type, value = next(iter(profile["ids"].items()))
    identifier = f"{id_type}:{value[0] if isinstance(value, list) else value}"
    name = display_name(profile_api.url, profile_api.space_id, profile_api.token, identifier)
    assert isinstance(name, str)


@settings(max_examples=50, deadline=None, suppress_health_check=SLOW)
@given(responses("traits"))
def test_reads_every_traits_body_the_api_sends(response):
    assert trait_names(response.body) == sorted(response.body["traits"])


@settings(max_examples=50, deadline=None, suppress_health_check=SLOW)
@given(drifted_responses("traits"))
def test_a_drifted_body_fails_only_with_our_own_error(drift):
    # Refused cleanly, or read despite the drift; anything else (KeyError, TypeError) fails.
    with contextlib.suppress(UnexpectedAnswer):
        trait_names(drift.body)
