"""Live mode: the same consumer tests, run against the real API through a validating proxy.

``LiveProfileAPI`` is the ``ProfileAPI`` handle pointed at a local validating proxy
(``profilemock.contract.proxy``) in front of the real API instead of at the fake:
``url``, ``auth``, ``token``, ``profile_url``, the journal and ``assert_called`` work the
same, because the proxy keeps the same journal. What only a fake can do — change data,
inject faults, set rate limits, move the clock — skips the test with a reason naming the
call, at the test's line: every frame from the call to ``pytest.skip`` is hidden
(``__tracebackhide__``), and pytest reports a skip where its last shown frame is.
``check()`` fails the test whose requests got an answer that breaks the contract, naming
the route, the status and the JSON pointer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from profilemock.api import TOKEN_VARIABLE
from profilemock.contract.proxy import ProxySettings, create_proxy_app
from profilemock.contract.upstream import DEFAULT_MAX_BODY, parse_size
from profilemock.mockserver.serving import ServerThread
from profilemock.testing import ProfileAPI, ProfileAPIError
from profilemock.words import counted

MAX_BODY_OPTION = "--profile-api-max-body"
Skip = Callable[[str], NoReturn]


class NeedsFake(Exception):
    """Raised (by default) when a live test calls something only the fake can do."""


def _raise(reason: str) -> NoReturn:
    raise NeedsFake(reason)


@dataclass(frozen=True)
class LiveSettings:
    """Where the real API is and how to reach it."""

    upstream: str
    space_id: str
    token: str
    strict: bool = False
    timeout: float = 30.0
    max_body: int = DEFAULT_MAX_BODY
    """Bytes of one upstream body at most (``--profile-api-max-body``)."""

    @classmethod
    def resolve(
        cls,
        url: str | None,
        space_id: str | None,
        environ: Mapping[str, str],
        *,
        strict: bool = False,
        max_body: str | None = None,
    ) -> LiveSettings:
        """The settings, or ValueError naming each thing missing or wrong and where it
        comes from."""
        from profilemock.contract.upstream import UpstreamError, upstream_url

        missing = []
        if not url:
            missing.append("the upstream: --profile-api-url URL or the ini key profile_api_url")
        if not space_id:
            missing.append("the space: --profile-api-space ID or the ini key profile_api_space")
        token = environ.get(TOKEN_VARIABLE, "").strip()
        if not token:
            missing.append(f"the token: the {TOKEN_VARIABLE} environment variable")
        if missing:
            raise ValueError("live mode needs " + "; ".join(missing))
        assert url is not None
        assert space_id is not None
        try:
            upstream = upstream_url(url, token=f"the {TOKEN_VARIABLE} environment variable")
        except UpstreamError as exc:
            raise ValueError(f"--profile-api-url: {exc}") from None
        try:
            limit = DEFAULT_MAX_BODY if not max_body else parse_size(max_body)
        except ValueError as exc:
            raise ValueError(f"{MAX_BODY_OPTION} (or profile_api_max_body): {exc}") from None
        return cls(upstream, space_id, token, strict=strict, max_body=limit)


class LiveProxy:
    """The validating proxy of a live session, started once."""

    def __init__(self, settings: LiveSettings) -> None:
        self.settings = settings
        app = create_proxy_app(
            ProxySettings(
                settings.upstream,
                strict=settings.strict,
                timeout=settings.timeout,
                max_body=settings.max_body,
                max_body_flag=MAX_BODY_OPTION,
                find_other_collection=True,  # so that assert_called counts as against the fake
            )
        )
        self.server = ServerThread(app).start()

    def close(self) -> None:
        self.server.stop()


class LiveClock:
    """The real API's clock: it can be read, not moved."""

    def __init__(self, skip: Skip) -> None:
        self._skip = skip

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc)

    def freeze(self, at: Any = None) -> NoReturn:
        __tracebackhide__ = True
        self._skip(_needs_fake("clock.freeze"))

    def pin(self, at: Any = None) -> NoReturn:
        __tracebackhide__ = True
        self._skip(_needs_fake("clock.pin"))

    def advance(self, by: Any) -> NoReturn:
        __tracebackhide__ = True
        self._skip(_needs_fake("clock.advance"))

    def resume(self) -> NoReturn:
        __tracebackhide__ = True
        self._skip(_needs_fake("clock.resume"))


def _needs_fake(call: str) -> str:
    return (
        f"live mode: `{call}` needs the fake (the real API cannot be changed from a test);"
        " run without --profile-api-live"
    )


class LiveProfileAPI(ProfileAPI):
    """``ProfileAPI`` against the real API through the validating proxy."""

    live = True
    reached = "the API through the validating proxy"

    def __init__(self, proxy: LiveProxy, skip: Skip = _raise) -> None:
        self._server = proxy.server
        self._skip = skip
        self.space_id = proxy.settings.space_id
        self.token = proxy.settings.token
        self.url = proxy.server.url
        self.clock = LiveClock(skip)  # type: ignore[assignment]
        self._marker: dict[str, Any] = {}
        self._reported: set[int] = set()
        """Requests whose violations ``check`` raised already (each is raised once)."""

    def _fake_only(self, call: str) -> NoReturn:
        __tracebackhide__ = True
        self._skip(_needs_fake(call))

    @property
    def spaces(self) -> list[str]:
        """The one space live mode reads (``--profile-api-space``)."""
        return [self.space_id]

    def space(self, space_id: str) -> ProfileAPI:
        """This handle for its own space; another needs the fake (the proxy reads one)."""
        __tracebackhide__ = True
        if space_id == self.space_id:
            return self
        self._skip(
            f"live mode: `space({space_id!r})` needs the fake: live mode reads the one space"
            f" `{self.space_id}` (--profile-api-space); run without --profile-api-live"
        )

    def add_user(self, *args: Any, **kwargs: Any) -> NoReturn:
        __tracebackhide__ = True
        self._fake_only("add_user")

    def add_account(self, *args: Any, **kwargs: Any) -> NoReturn:
        __tracebackhide__ = True
        self._fake_only("add_account")

    def link(self, *args: Any, **kwargs: Any) -> NoReturn:
        __tracebackhide__ = True
        self._fake_only("link")

    def add_events(self, *args: Any, **kwargs: Any) -> NoReturn:
        __tracebackhide__ = True
        self._fake_only("add_events")

    def remove_profile(self, *args: Any, **kwargs: Any) -> NoReturn:
        __tracebackhide__ = True
        self._fake_only("remove_profile")

    def fault(self, *args: Any, **kwargs: Any) -> NoReturn:
        __tracebackhide__ = True
        self._fake_only("fault")

    def rate_limit(self, *args: Any, **kwargs: Any) -> NoReturn:
        __tracebackhide__ = True
        self._fake_only("rate_limit")

    def realism(self, *args: Any, **kwargs: Any) -> NoReturn:
        __tracebackhide__ = True
        self._fake_only("realism")

    def configure(self, **options: Any) -> None:
        """A marker's configuration: anything given (it all changes the fake) skips the test."""
        given = list(options)
        if given:
            self._skip(
                f"live mode: the profile_api marker's {', '.join(f'`{n}=`' for n in given)}"
                " configures the fake; run without --profile-api-live"
            )

    def check(self) -> None:
        """Fail when an answer this test caused broke the contract (or the proxy failed)."""
        super().check()
        broken = [e for e in self.requests if e.violations and e.seq not in self._reported]
        if not broken:
            return
        self._reported.update(e.seq for e in broken)
        lines = []
        for entry in broken:
            for violation in entry.violations:
                route = entry.route or "no route"
                lines.append(
                    f"  {entry.method} {entry.path} ({route}) -> {entry.status}: {violation}"
                )
        count = sum(len(e.violations) for e in broken)
        raise ProfileAPIError(
            f"the real API's answers broke the contract ({counted(count, 'violation')}):\n"
            + "\n".join(lines)
        )
