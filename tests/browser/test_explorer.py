"""The explorer page at /__admin/explorer, driven in a real headless Chromium.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them); without
them these tests skip locally and fail on CI. The screenshot lands in ``test-artifacts/``
(or ``$PROFILEMOCK_ARTIFACTS``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from profilemock.clock import Clock
from profilemock.fixtures.loader import demo_fixture_path, load_fixtures
from profilemock.mockserver.app import create_app
from profilemock.mockserver.reload import RELOADER, enable_reload
from profilemock.mockserver.serving import ServerThread
from profilemock.mockserver.state import ServerSettings

ADMIN_TOKEN = "s3cret-admin"
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("PROFILEMOCK_ARTIFACTS", ROOT / "test-artifacts"))
TRAITS = "/v1/spaces/lg8283283/collections/users/profiles/{}/traits"

CHROMIUM = next(
    (found for name in ("chromium", "chromium-browser") if (found := shutil.which(name))), None
)
DRIVER = shutil.which("chromedriver")

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError:  # pragma: no cover - the dev install has it
    webdriver = None  # type: ignore[assignment]

MISSING = (
    "no headless Chromium here: install Debian's chromium and chromium-driver"
    " (apt-get install -y chromium chromium-driver) and selenium (the dev extra); CI does"
)
if CHROMIUM is None or DRIVER is None or webdriver is None:
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the browser tests: {MISSING}", pytrace=False)
    pytest.skip(MISSING, allow_module_level=True)


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    clock = Clock()
    settings = ServerSettings(admin_token=ADMIN_TOKEN, seed=1)
    app = create_app(load_fixtures([demo_fixture_path()], clock), clock, settings)
    with ServerThread(app) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1440,1000",
        "--no-first-run",
        "--disable-extensions",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=str(DRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def page(server: ServerThread, browser: WebDriver) -> WebDriver:
    """The explorer, opened fresh on a reset server, past the admin token prompt."""
    server.call(lambda state: state.reset())
    browser.get(f"{server.url}/__admin/explorer")
    browser.execute_script("sessionStorage.clear()")
    browser.get(f"{server.url}/__admin/explorer")
    until(browser, lambda d: d.find_element(By.ID, "token-box").is_displayed())
    browser.find_element(By.ID, "admin-token").send_keys(ADMIN_TOKEN)
    browser.find_element(By.CSS_SELECTOR, "#token-form button").click()
    until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#space option"))
    assert not browser.find_element(By.ID, "token-box").is_displayed()
    return browser


def until(browser: WebDriver, condition: Callable[[WebDriver], Any]) -> Any:
    """Wait for the page to get there (the DOM is polled; the test does not sleep)."""
    return WebDriverWait(browser, 30, poll_frequency=0.05).until(condition)


def text_of(browser: WebDriver, selector: str) -> str:
    """The text of the first element matching ``selector``, read in one step (the
    journal and fault list are redrawn every second)."""
    text: str = browser.execute_script(
        "const found = document.querySelector(arguments[0]); return found ? found.innerText : '';",
        selector,
    )
    return text


def click(browser: WebDriver, selector: str) -> None:
    browser.execute_script("document.querySelector(arguments[0]).click()", selector)


def search(browser: WebDriver, identifier: str) -> None:
    box = browser.find_element(By.ID, "identifier")
    box.clear()
    box.send_keys(identifier)
    browser.find_element(By.ID, "search").click()


def api(server: ServerThread, identifier: str) -> requests.Response:
    return requests.get(server.url + TRAITS.format(identifier), auth=("demo-token", ""), timeout=10)


def test_search_a_profile_fault_a_request_watch_it_fail_and_remove_the_fault(
    server: ServerThread, page: WebDriver
) -> None:
    search(page, "user_id:u1234")
    # The cards come one after another, metadata last.
    until(page, lambda d: "segment_id" in text_of(d, "#resource-metadata"))
    traits = text_of(page, "#resource-traits")
    assert "Bob" in traits
    assert "first_name" in traits
    assert "CRx5M9uk2p" in traits  # the source of the winning value
    assert (
        f"curl -u demo-token: '{server.url}/v1/spaces/lg8283283/collections/users/profiles/"
        "user_id:u1234/traits?verbose=true&limit=200'" in traits
    )
    assert "anonymous_id" in text_of(page, "#resource-external_ids")
    assert "Email Opened" in text_of(page, "#resource-events")
    assert "segment_id" in text_of(page, "#resource-metadata")

    page.find_element(By.ID, "fault-spec").send_keys("traits:503")
    page.find_element(By.ID, "add-fault").click()
    until(page, lambda d: d.find_elements(By.CSS_SELECTOR, '#faults li[data-id="fault-1"]'))
    assert server.call(lambda state: [rule.id for rule in state.faults]) == ["fault-1"]

    assert api(server, "user_id:u1234").status_code == 503
    assert api(server, "user_id:U1234").status_code == 503  # the fault answers first
    until(page, lambda d: d.find_elements(By.CSS_SELECTOR, '#journal tr[data-status="503"]'))
    row = text_of(page, '#journal tr[data-status="503"]')
    assert "fault-1" in row
    assert "GET traits" in row

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.save_screenshot(str(ARTIFACTS / "explorer.png"))
    assert (ARTIFACTS / "explorer.png").stat().st_size > 10_000

    click(page, '#faults li[data-id="fault-1"] .remove-fault')
    until(page, lambda d: not d.find_elements(By.CSS_SELECTOR, '#faults li[data-id="fault-1"]'))
    assert server.call(lambda state: len(state.faults)) == 0
    assert api(server, "user_id:u1234").status_code == 200


def test_a_fault_that_breaks_the_pages_own_call_is_said_on_the_page(
    server: ServerThread, page: WebDriver
) -> None:
    # A rule armed for the app breaks the page's calls too: a connection reset left the
    # last profile shown as if found, a malformed body a blank page, the rest of the
    # cards undrawn, and only an uncaught TypeError in the console.
    server.call(lambda state: state.faults.add({"route": "metadata", "fault": "reset"}))
    search(page, "user_id:u1234")
    until(page, lambda d: text_of(d, "#search-error"))
    assert text_of(page, "#search-error").startswith("no answer (Failed to fetch): ")
    assert text_of(page, "#profile") == ""
    server.call(lambda state: state.faults.clear())
    server.call(lambda state: state.faults.add({"route": "traits", "fault": "malformed"}))
    search(page, "user_id:u1234")
    until(page, lambda d: "segment_id" in text_of(d, "#resource-metadata"))
    assert "200: the body is not JSON (fault rule fault-1)" in text_of(page, "#resource-traits")
    assert "Email Opened" in text_of(page, "#resource-events")


def test_the_journal_shows_the_hint_of_a_failed_request(
    server: ServerThread, page: WebDriver
) -> None:
    assert api(server, "user_id:U1234").status_code == 404
    until(page, lambda d: "case-sensitive" in text_of(d, "#journal .hint-row"))
    assert "user_id:U1234" in text_of(page, '#journal tr[data-status="404"]')


def test_the_journal_shows_the_apps_requests_not_the_pages_own(
    server: ServerThread, page: WebDriver
) -> None:
    """Each profile the page shows makes five or six calls (a 404 probing the other
    collection among them): they filled the journal as if the app had made them."""
    search(page, "group_id:12345")  # the users collection first: a 404, then accounts
    until(page, lambda d: "segment_id" in text_of(d, "#resource-metadata"))
    made = server.call(lambda state: len(state.journal))
    assert made >= 6
    assert api(server, "user_id:U1234").status_code == 404
    until(page, lambda d: d.find_elements(By.CSS_SELECTOR, '#journal tr[data-status="404"]'))
    until(page, lambda d: "of this page's own not shown" in text_of(d, "#journal-note"))
    rows = page.find_elements(By.CSS_SELECTOR, "#journal tbody tr:not(.hint-row)")
    assert [text_of_element(row) for row in rows] == [text_of_element(rows[0])]
    assert "user_id:U1234" in text_of_element(rows[0])
    assert f"{made} of this page's own not shown" in text_of(page, "#journal-note")
    click(page, "#mine")
    until(
        page,
        lambda d: (
            len(d.find_elements(By.CSS_SELECTOR, "#journal tbody tr:not(.hint-row)")) == made + 1
        ),
    )


def test_the_journal_shows_a_browsers_preflights_only_when_asked(
    server: ServerThread, page: WebDriver
) -> None:
    """A preflight (``--cors``) was listed as ``204 OPTIONS traits``, among the app's calls."""
    path = TRAITS.format("user_id:u1234")

    def preflight(state: Any) -> None:
        journal = state.journal
        ticket = journal.arrived(state.clock.now_ns(), "OPTIONS", path, "none")
        journal.preflight(ticket)
        journal.finished(ticket, 204, None, 0.1, "answered", None, None)

    server.call(preflight)
    assert api(server, "user_id:u1234").status_code == 200
    until(page, lambda d: d.find_elements(By.CSS_SELECTOR, '#journal tr[data-status="200"]'))
    assert not page.find_elements(By.CSS_SELECTOR, '#journal tr[data-status="204"]')
    click(page, "#preflights")
    until(page, lambda d: d.find_elements(By.CSS_SELECTOR, '#journal tr[data-status="204"]'))
    assert "OPTIONS traits (preflight)" in text_of(page, '#journal tr[data-status="204"]')


def text_of_element(element: Any) -> str:
    return str(element.get_attribute("innerText"))


def test_events_page_and_links_lead_to_the_linked_profile(page: WebDriver) -> None:
    search(page, "user_id:5550000001")
    until(page, lambda d: d.find_elements(By.CSS_SELECTOR, "#resource-events .next-page"))
    first_page = text_of(page, "#resource-events table")
    click(page, "#resource-events .next-page")
    until(page, lambda d: "&next=" in text_of(d, "#resource-events pre.curl"))
    assert text_of(page, "#resource-events table") != first_page

    search(page, "user_id:u1234")
    until(page, lambda d: d.find_elements(By.CSS_SELECTOR, "#resource-links a.link"))
    click(page, "#resource-links a.link")
    until(page, lambda d: text_of(d, "#profile-title").startswith("accounts · group_id:"))
    assert page.find_element(By.ID, "collection").get_attribute("value") == "accounts"


def test_every_kind_of_event_shows_its_name_and_what_it_carried(
    server: ServerThread, page: WebDriver
) -> None:
    events = [
        {"type": "page", "name": "Pricing", "timestamp": "-1h", "properties": {"path": "/p"}},
        {"type": "identify", "timestamp": "-2h", "traits": {"plan": "pro"}},
        {"type": "group", "group_id": "g-9", "timestamp": "-3h", "traits": {"seats": 4}},
        {"type": "alias", "previous_id": "anon-7", "timestamp": "-4h"},
    ]
    added = requests.put(
        f"{server.url}/__admin/spaces/lg8283283/collections/users/profiles",
        json={"ids": {"user_id": "kinds"}, "events": events},
        headers={"Profilemock-Admin-Token": ADMIN_TOKEN},
        timeout=10,
    )
    assert added.status_code == 201, added.text
    search(page, "user_id:kinds")
    until(page, lambda d: "anon-7" in text_of(d, "#resource-events table"))
    rows = [row.split("\t") for row in text_of(page, "#resource-events tbody").splitlines()]
    assert [row[1:] for row in rows] == [
        ["Pricing", "page", '{"path":"/p"}'],
        ["", "identify", '{"plan":"pro"}'],
        ["", "group", '{"group_id":"g-9","seats":4}'],
        ["", "alias", '{"previous_id":"anon-7"}'],
    ]


def test_a_profile_that_is_not_there_says_so_with_the_hint(page: WebDriver) -> None:
    search(page, "email:nobody@example.com")
    until(page, lambda d: "404" in text_of(d, "#search-error"))
    assert "Profile was not found." in text_of(page, "#search-error")


def test_list_profiles_and_open_one(page: WebDriver) -> None:
    page.find_element(By.ID, "list").click()
    until(page, lambda d: d.find_elements(By.CSS_SELECTOR, "#results table a"))
    assert "/collections/users/profiles?limit=20" in text_of(page, "#results pre.curl")
    click(page, "#results table a")
    until(page, lambda d: d.find_elements(By.ID, "resource-traits"))
    assert text_of(page, "#profile-title").startswith("users · use_")


def test_a_bad_fault_spec_is_explained(page: WebDriver) -> None:
    page.find_element(By.ID, "fault-spec").send_keys("traits:999")
    page.find_element(By.ID, "add-fault").click()
    until(page, lambda d: text_of(d, "#fault-error"))
    assert text_of(page, "#fault-error").startswith("400: ")


def test_a_request_still_held_by_a_hang_shows_as_pending_and_the_journal_keeps_updating(
    server: ServerThread, page: WebDriver
) -> None:
    server.call(lambda state: state.faults.add({"route": "traits", "fault": "hang", "hang": "30s"}))
    with ThreadPoolExecutor(max_workers=1) as pool:
        url = server.url + TRAITS.format("user_id:u1234")
        held = pool.submit(requests.get, url, auth=("demo-token", ""), timeout=60)
        until(page, lambda d: d.find_elements(By.CSS_SELECTOR, '#journal tr[data-status="null"]'))
        assert "pending" in text_of(page, '#journal tr[data-status="null"]')
        # A pending entry (no duration yet) must not stop the journal from redrawing.
        metadata = server.url + TRAITS.format("user_id:U1234").replace("/traits", "/metadata")
        assert requests.get(metadata, auth=("demo-token", ""), timeout=10).status_code == 404
        until(page, lambda d: d.find_elements(By.CSS_SELECTOR, '#journal tr[data-status="404"]'))
        server.call(lambda state: state.reset())  # ends the hang
        with contextlib.suppress(requests.ConnectionError):
            held.result(timeout=30)


FETCH = """
const done = arguments[arguments.length - 1];
fetch(arguments[0], {headers: {Authorization: "Basic " + btoa("demo-token:")}})
  .then((answer) => done(answer.status), (error) => done(String(error)));
"""


@pytest.mark.parametrize(("times", "seen"), [(1, 200), (None, "TypeError: Failed to fetch")])
def test_a_browser_sends_a_get_again_when_its_reused_connection_is_reset(
    server: ServerThread, browser: WebDriver, times: int | None, seen: object
) -> None:
    # What the README tells a frontend: a `reset` with times=1 never reaches a page's fetch
    # on a kept-alive connection (Chromium sends the GET again); a rule without it does.
    server.call(lambda state: state.reset())
    browser.get(f"{server.url}/__admin/health")  # a page of the fake's origin that polls nothing
    url = server.url + TRAITS.format("user_id:u1234")
    assert browser.execute_async_script(FETCH, url) == 200  # a connection, now kept alive
    rule = {"route": "traits", "fault": "reset"} | ({"times": times} if times else {})
    server.call(lambda state: state.faults.add(rule))
    assert browser.execute_async_script(FETCH, url) == seen
    outcomes = server.call(lambda state: [entry.outcome for entry in state.journal])
    assert outcomes[-2:] == (["broken", "answered"] if times else ["broken", "broken"])


def test_a_fault_rule_as_json_gives_what_a_spec_cannot_say(
    server: ServerThread, page: WebDriver
) -> None:
    # A spec carries no headers: a 429 with Retry-After is a rule written as JSON.
    rule = '{"route": "traits", "status": 429, "headers": {"Retry-After": "2"}}'
    page.find_element(By.ID, "fault-spec").send_keys(rule)
    page.find_element(By.ID, "add-fault").click()
    until(page, lambda d: d.find_elements(By.CSS_SELECTOR, '#faults li[data-id="fault-1"]'))
    answer = api(server, "user_id:u1234")
    assert (answer.status_code, answer.headers["Retry-After"]) == (429, "2")
    page.find_element(By.ID, "fault-spec").send_keys('{"route": "traits",')
    page.find_element(By.ID, "add-fault").click()
    until(page, lambda d: text_of(d, "#fault-error"))
    assert text_of(page, "#fault-error").startswith("not a rule: ")
    assert server.call(lambda state: len(state.faults)) == 1


FIXTURE = """\
spaces:
  shop:
    tokens: [{token}]
    users:
      - ids: {{user_id: ada}}
        traits: {{first_name: {name}}}
"""


def test_reloading_the_fixtures_shows_their_problems_then_the_new_data(
    browser: WebDriver, tmp_path: Path
) -> None:
    """A save the server cannot use is said on the page, not only on the terminal; the
    good one's spaces (their counts and tokens) and the open profile are read again."""
    path = tmp_path / "shop.yaml"
    path.write_text(FIXTURE.format(token="t1", name="Ada"))
    clock = Clock()
    app = create_app(load_fixtures([path], clock), clock, ServerSettings())
    enable_reload(app, [path])
    with ServerThread(app) as served:
        browser.get(f"{served.url}/__admin/explorer")
        until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#space option"))
        search(browser, "user_id:ada")
        until(browser, lambda d: "Ada" in text_of(d, "#resource-traits table"))

        path.write_text(FIXTURE.format(token="t1", name="Ada").replace("traits", "trait"))
        click(browser, "#reload")
        until(browser, lambda d: "unknown key `trait`" in text_of(d, "#reload-note"))
        assert f"{path}:6:9: unknown key `trait`" in text_of(browser, "#reload-note")

        path.write_text(FIXTURE.format(token="t2", name="Grace"))
        click(browser, "#reload")
        until(browser, lambda d: "Grace" in text_of(d, "#resource-traits table"))
        assert text_of(browser, "#reload-note").startswith("reloaded: 1 space, 1 user, 0 accounts")

        # A good save's warnings come one a line, each with file:line:column.
        path.write_text(
            FIXTURE.format(token="t2", name="Grace").replace("ada}", "ada, email: A@x.io}")
        )
        click(browser, "#reload")
        until(browser, lambda d: "warning" in text_of(d, "#reload-note"))
        assert text_of(browser, "#reload-note").splitlines()[1].startswith(f"{path}:5:")
        assert "curl -u t2:" in text_of(browser, "#resource-traits")  # the new token
        assert text_of(browser, "#space") == "shop (1 user, 0 accounts)"

        # A reload the page did not make (--watch, a script) shows within a poll, a failed
        # one with its problems (it showed only when Reload fixtures was pressed).
        path.write_text(FIXTURE.format(token="t2", name="Grace") + "      - ids: {user_id: bo}\n")
        assert requests.post(f"{served.url}/__admin/reload", timeout=10).status_code == 200
        until(browser, lambda d: text_of(d, "#space") == "shop (2 users, 0 accounts)")
        assert text_of(browser, "#reload-note").startswith("reloaded: 1 space, 2 users,")
        # --watch stopped (the system refused a watch) was told on stderr only.
        assert text_of(browser, "#watch-stopped") == ""
        stopped = "--watch stopped: OS file watch limit reached; saved changes are not served"
        served.call(lambda state: setattr(app[RELOADER], "unwatched", stopped))
        path.write_text(FIXTURE.format(token="t2", name="Grace").replace("traits", "trait"))
        assert requests.post(f"{served.url}/__admin/reload", timeout=10).status_code == 422
        until(browser, lambda d: "unknown key `trait`" in text_of(d, "#reload-note"))
        assert text_of(browser, "#watch-stopped") == stopped  # the same poll read both
        note = text_of(browser, "#reload-note").splitlines()
        assert note[0].startswith("reload of the fixtures failed at ")
        assert note[0].endswith(", still serving the previous data:")
        assert note[1].startswith(f"{path}:6:9: unknown key `trait`")


def test_a_long_value_wraps_inside_its_card(server: ServerThread, page: WebDriver) -> None:
    # An object trait (an address as JSON, no space in it) pushed the table past its card.
    address = {"street": "480 Troy Road Suite 281", "city": "Porterhaven", "country": "US"}
    added = requests.put(
        f"{server.url}/__admin/spaces/lg8283283/collections/users/profiles",
        json={"ids": {"user_id": "wide"}, "traits": {"address": address, "url": "x" * 300}},
        headers={"Profilemock-Admin-Token": ADMIN_TOKEN},
        timeout=10,
    )
    assert added.status_code == 201, added.text
    search(page, "user_id:wide")
    until(page, lambda d: "Porterhaven" in text_of(d, "#resource-traits table"))
    card, table = page.execute_script(
        "const card = document.querySelector('#resource-traits');"
        "return [card.clientWidth, card.querySelector('table').scrollWidth];"
    )
    assert table <= card


def test_realism_switches_are_shown_and_set_from_the_page(
    server: ServerThread, page: WebDriver
) -> None:
    def realism() -> dict[str, Any]:
        return server.call(lambda state: state.realism.as_dict())

    until(
        page,
        lambda d: not d.find_element(By.CSS_SELECTOR, '[data-switch="short_pages"]').is_selected(),
    )
    click(page, '[data-switch="short_pages"]')
    until(page, lambda d: realism()["short_pages"] is True)
    Select(page.find_element(By.ID, "gateway-errors")).select_by_value("html")
    until(page, lambda d: realism()["gateway_errors"] == "html")
    delay = page.find_element(By.ID, "propagation-delay")
    delay.send_keys("2 s", Keys.ENTER)
    until(page, lambda d: "propagation_delay" in text_of(d, "#realism-error"))
    assert realism()["propagation_delay"] == "0s"
    delay.clear()
    delay.send_keys("2s", Keys.ENTER)
    until(page, lambda d: realism()["propagation_delay"] == "2s")
    assert text_of(page, "#realism-error") == ""
    # A change made elsewhere (a test, curl) shows within a poll.
    server.call(lambda state: state.set_realism({"null_lists": True}))
    until(
        page, lambda d: d.find_element(By.CSS_SELECTOR, '[data-switch="null_lists"]').is_selected()
    )
