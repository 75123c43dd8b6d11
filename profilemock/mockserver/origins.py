"""Who may drive the admin API: the Host it was called by and the page that calls it.

A web page the developer visits can send requests to ``http://127.0.0.1:4010`` (a form
post, ``fetch`` with ``mode: "no-cors"``), and a hostile DNS name can be made to point at
127.0.0.1 (DNS rebinding). Neither may change the fake. So the admin API answers only

- requests whose ``Host`` is an IP address, ``localhost`` (or ``*.localhost``), or a name
  the server was told to accept (its ``--host``, ``--allow-host``; ``*`` for any);
- requests with no ``Origin`` (curl, test code), from the same origin (the explorer page),
  or, with CORS on, from a loopback origin (``http://localhost:*``, ``http://127.0.0.1:*``,
  where a frontend's dev server runs) or an origin named with ``--cors-origin``;
- bodies declared ``application/json``, which a page cannot send cross-origin without a
  preflight.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from urllib.parse import urlsplit

from profilemock.mockserver.errors import ApiError
from profilemock.mockserver.state import ServerSettings

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
"""Host names of loopback origins, as an ``Origin`` header spells them."""


def host_name(host: str) -> str:
    """The name part of a ``Host`` header value: ``[::1]:80`` -> ``::1``, ``a.b:80`` ->
    ``a.b`` (lowercase, no trailing dot)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host.rstrip(".")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def host_allowed(host: str | None, allowed: tuple[str, ...]) -> bool:
    """Whether ``Host: host`` is one a rebound DNS name cannot forge."""
    if "*" in allowed:
        return True
    if not host:
        return False
    name = host_name(host).rstrip(".")
    return (
        _is_ip(name)
        or name == "localhost"
        or name.endswith(".localhost")
        or name in (a.lower().rstrip(".") for a in allowed)
    )


def is_loopback_origin(origin: str) -> bool:
    """``http://localhost:5173``, ``http://127.0.0.1:3000``, ``https://[::1]``..."""
    try:
        parts = urlsplit(origin)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or parts.path or parts.query:
        return False
    name = (parts.hostname or "").lower()
    return name in ("localhost", "::1") or name.endswith(".localhost") or name.startswith("127.")


def same_origin(origin: str, scheme: str, host: str | None) -> bool:
    """Whether ``origin`` is the server's own origin as the request addressed it."""
    return host is not None and origin.lower() == f"{scheme}://{host}".lower()


def admin_origin_allowed(
    origin: str, scheme: str, host: str | None, *, cors: bool, cors_origins: tuple[str, ...]
) -> bool:
    """Whether a page at ``origin`` may call the admin API."""
    if same_origin(origin, scheme, host):
        return True
    if not cors:
        return False
    return is_loopback_origin(origin) or origin.rstrip("/") in cors_origins


def forbidden(message: str) -> ApiError:
    return ApiError(403, "forbidden", message)


def is_json_type(content_type: str) -> bool:
    """``application/json`` or ``application/*+json`` (parameters such as charset ignored)."""
    media = content_type.partition(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


ADMIN_METHODS = "GET, POST, PUT, PATCH, DELETE"
ADMIN_HEADERS = "Content-Type, Authorization, Profilemock-Admin-Token"


def admin_refusal(
    method: str,
    headers: Mapping[str, str],
    scheme: str,
    has_body: bool,
    settings: ServerSettings,
) -> ApiError | None:
    """Why this admin request is refused, or None when it may go on."""
    host = headers.get("Host")
    allowed_hosts = settings.allowed_hosts
    if not host_allowed(host, allowed_hosts):
        return forbidden(
            f"the admin API does not answer to Host `{host or ''}` (a DNS name pointed at this"
            " server could be a page's DNS rebinding); call it by IP address or localhost,"
            " or name the host with --allow-host"
        )
    origin = headers.get("Origin")
    if origin is not None and not admin_origin_allowed(
        origin, scheme, host, cors=settings.cors, cors_origins=settings.cors_origins
    ):
        return forbidden(
            f"the admin API does not take requests from pages at `{origin}`:"
            + (
                " only the same origin, loopback origins (http://localhost:*,"
                " http://127.0.0.1:*) and origins named with --cors-origin"
                if settings.cors
                else " CORS is off (--cors lets loopback origins and --cors-origin ones in)"
            )
        )
    if has_body and method != "OPTIONS":
        content_type = headers.get("Content-Type", "")
        if not is_json_type(content_type):
            return ApiError(
                415,
                "invalid_request_error",
                "admin request bodies are JSON: send Content-Type: application/json"
                f" (curl --json '{{...}}'); got `{content_type or 'none'}`",
            )
    return None
