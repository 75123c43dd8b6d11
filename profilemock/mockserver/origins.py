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

import re
from collections.abc import Mapping

from profilemock.api import is_ip_address, is_loopback_name, port_number
from profilemock.mockserver.errors import ApiError
from profilemock.mockserver.state import ServerSettings
from profilemock.schemas.validation import media_type


def host_name(host: str) -> str:
    """The name part of a ``Host`` header value: ``[::1]:80`` -> ``::1``, ``a.b:80`` ->
    ``a.b`` (lowercase, no trailing dot)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host.rstrip(".")


def host_allowed(host: str | None, allowed: tuple[str, ...]) -> bool:
    """Whether ``Host: host`` is one a rebound DNS name cannot forge."""
    if "*" in allowed:
        return True
    if not host:
        return False
    name = host_name(host).rstrip(".")
    return (
        is_ip_address(name)
        or is_loopback_name(name)
        or name in (a.lower().rstrip(".") for a in allowed)
    )


_ORIGIN = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*)://([^/?#]*)")
DEFAULT_PORTS = {"http": 80, "https": 443}
Origin = tuple[str, str, int]
"""Scheme, host and port of a URL, each as compared: lower case, the port always given."""


def split_origin(url: str) -> tuple[Origin, str] | None:
    """The origin of an absolute http(s) ``url`` and the rest of it (path, query, fragment)
    as written; None for a relative URL, another scheme, one with credentials, no host, or
    a port that is not a number up to 65535. The one reader of a URL's origin: the proxy's
    ``cursor.url``, ``--cors-origin`` and the admin API's ``Origin`` checks."""
    match = _ORIGIN.match(url)
    if match is None:
        return None
    scheme, authority = match.group(1).lower(), match.group(2)
    if scheme not in DEFAULT_PORTS or "@" in authority:
        return None
    host, colon, port = authority.rpartition(":")
    if not colon or "]" in port:  # no port; or a bare IPv6 address such as [::1]
        host, port = authority, ""
    number = port_number(port) if port else DEFAULT_PORTS[scheme]
    host = host.lower().rstrip(".")
    if number is None or not host or host == "[]":
        return None
    return (scheme, host, number), url[match.end() :]


def is_loopback_origin(origin: str) -> bool:
    """``http://localhost:5173``, ``http://127.0.0.1:3000``, ``https://[::1]``..."""
    found = split_origin(origin)
    if found is None or found[1]:
        return False
    return is_loopback_name(found[0][1])


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
    return is_loopback_origin(origin) or _named(origin, cors_origins)


def _named(origin: str, origins: tuple[str, ...]) -> bool:
    """Whether ``origin`` is one of ``origins`` as origins compare: a default port written
    or not, leading zeros (``--cors-origin https://app.example:443`` never matched the
    ``Origin: https://app.example`` a browser sends)."""
    found = split_origin(origin)
    if found is None or found[1].strip("/"):
        return False
    return any((named := split_origin(o)) is not None and named[0] == found[0] for o in origins)


def forbidden(message: str) -> ApiError:
    return ApiError(403, "forbidden", message)


def is_json_type(content_type: str) -> bool:
    """``application/json`` or ``application/*+json`` (parameters such as charset ignored)."""
    media = media_type(content_type)
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
