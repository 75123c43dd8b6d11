"""CORS, when a server is started with it on (the real API sends no CORS headers).

A browser's preflight is answered yes for GET and HEAD from any origin, and every answer
names the asking origin and exposes profilemock's own headers and every other header it
carries (a fault rule's `Retry-After`, say), so the app's own code can read them. With it
off, a preflight gets the API's own 405, its hint (``OFF_HINT``) saying what it was.
"""

from __future__ import annotations

from aiohttp import web

from profilemock.api import OWN_HEADERS

# What a page may read without being told (the Fetch standard's CORS-safelisted response
# headers), and the CORS headers themselves: never worth naming.
_READABLE = frozenset(
    {
        "cache-control",
        "content-language",
        "content-length",
        "content-type",
        "expires",
        "last-modified",
        "pragma",
        "vary",
        "set-cookie",
    }
)


OFF_HINT = (
    "a browser's CORS preflight, refused as the real API refuses it (no CORS): serve with"
    " --cors (or --cors-origin ORIGIN) to let pages call the fake"
)
"""The hint of a preflight's 405 when CORS is off: the browser says only "blocked by CORS
policy", and the fake's log and journal a bare ``OPTIONS ... 405``."""


def is_preflight(request: web.BaseRequest) -> bool:
    return (
        request.method == "OPTIONS"
        and "Origin" in request.headers
        and "Access-Control-Request-Method" in request.headers
    )


def preflight(request: web.Request) -> web.Response:
    """A browser asks whether it may send the request: yes, for GET and HEAD from anywhere."""
    response = web.Response(status=204)
    asked = request.headers.get("Access-Control-Request-Headers", "Authorization")
    response.headers.update(
        {
            "Access-Control-Allow-Methods": "GET, HEAD",
            "Access-Control-Allow-Headers": asked,
            "Access-Control-Max-Age": "600",
        }
    )
    allow_origin(request, response)
    return response


def allow_origin(request: web.Request, response: web.StreamResponse) -> None:
    origin = request.headers.get("Origin")
    if origin is None or response.prepared:
        return
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Access-Control-Allow-Credentials"] = "true"
    response.headers["Access-Control-Expose-Headers"] = exposed(response)
    response.headers["Vary"] = "Origin"


def exposed(response: web.StreamResponse) -> str:
    """``api.OWN_HEADERS`` and the names of the other headers ``response`` carries (a fault rule's
    ``Retry-After`` or its own headers, ``WWW-Authenticate``, ``Allow``): without them in
    ``Access-Control-Expose-Headers`` a browser hides them from the page."""
    names = list(OWN_HEADERS)
    seen = {name.lower() for name in names}
    for name in response.headers:
        lower = name.lower()
        if lower in seen or lower in _READABLE or lower.startswith("access-control-"):
            continue
        seen.add(lower)
        names.append(name)
    return ", ".join(names)
