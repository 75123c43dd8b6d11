"""Reading a body under a size limit: an upstream's answers (the validating proxy, the
recorder) and the bodies of the requests the proxy forwards.

Each holds a whole body (to check it, to parse it, to send it on), so a body with no end,
or one far larger than any page of the API, would take the process's memory and time. Each read
stops at ``limit`` bytes — of the body as decoded, so a small gzip that inflates past the
limit stops too — and a ``Content-Length`` already over it is refused before any of the
body is read. The API's pages are small (200 traits, 100 events or profiles at most), so
the default leaves room for any real page many times over.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

from profilemock.api import API_PREFIX, is_ip_address, port_number
from profilemock.words import counted

if TYPE_CHECKING:  # (the command line reads this module before it needs aiohttp)
    import aiohttp
    from multidict import CIMultiDictProxy

REGIONS = {"us": "https://profiles.segment.com", "eu": "https://profiles.euw1.segment.com"}
"""The real API's base URL in each region (``--region``)."""
DEFAULT_TIMEOUT = 30.0
"""Seconds an upstream has to answer a request (``--timeout``)."""
DEFAULT_MAX_BODY = 32_000_000
"""Bytes of one upstream body at most, by default (32 MB)."""
MAX_BODY_FLAG = "--max-body"
MOST_BODY = 10**10
"""The largest limit a setting takes (10 GB)."""
_CHUNK = 64 * 1024
_CODING = re.compile(r"content-encoding: ([\w.-]+)(?: \(([\w.-]+)\))?", re.IGNORECASE)
"""The coding aiohttp names when a body does not decode: ``gzip``, ``brotli (br)``."""
_SIZE = re.compile(r"(\d{1,15}(?:\.\d{1,9})?) ?([kmg]i?b?|b)?", re.IGNORECASE)


class UpstreamError(ValueError):
    """An upstream URL the proxy cannot use."""


def upstream_failure(exc: BaseException) -> str:
    """What went wrong with a request to the upstream, in our words, after "the upstream":
    reached or not, and if it answered, what of its answer could not be read (never
    aiohttp's message, which quotes the raw bytes and a status the upstream never sent)."""
    import aiohttp

    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"could not be reached: {exc.os_error.strerror or exc.os_error}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "closed the connection without an answer"
    coding = (
        _CODING.search(str(exc))
        if isinstance(exc, aiohttp.ClientResponseError | aiohttp.ClientPayloadError)
        else None
    )
    if coding is not None:  # aiohttp's words for both: "Can not decode content-encoding: gzip"
        name = coding.group(2) or coding.group(1)
        if "install" in str(exc).lower():  # a coding the client did not ask for (no Brotli)
            return f"answered a body in a Content-Encoding it was not asked for ({name})"
        return f"answered a body that does not decode as its Content-Encoding says ({name})"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "answered a body that ended before its length, or is not well framed"
    if isinstance(exc, aiohttp.ClientResponseError):  # its answer is no HTTP the client reads
        message = str(exc.message).lower()
        if "status line" in message:  # where an answer starts: the first, or the next
            return (
                "answered something that is not HTTP where a status line should be: not HTTP"
                " at all, or more than its answer holds (a body longer than its"
                " Content-Length, or one sent with a 204, a 304 or an answer to HEAD)"
            )
        if "more than" in message and "bytes" in message:
            return "answered a status line or header over 8190 bytes"
        if "too many headers" in message:  # it said "not well-formed HTTP" of 200 Set-Cookie
            return "answered more than 128 header fields"
        return f"answered something that is not well-formed HTTP: {_malformed(str(exc.message))}"
    if isinstance(exc, OSError):
        return f"could not be reached: {exc.strerror or type(exc).__name__}"
    return f"could not be reached: {type(exc).__name__}"


_HOST_NAME = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?")
"""A host name as a resolver takes it (an internationalized one as yarl encodes it,
``xn--…``); an IP address is told apart by yarl."""
_NUMBER_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")
"""A last label that makes a host an IPv4 address, not a name (the WHATWG URL standard's
"ends in a number"; RFC 1123 2.1: a top-level label is never all digits)."""
_WRITTEN_PORT = re.compile(r"[^:]*://(?:[^@/?#]*@)?(?:\[[^\]/?#]*\]|[^\[:/?#]*):([^/?#]*)")
"""The port of an http(s) URL as written (yarl reads ``+80``, ``8_0`` and ``٨٠`` as 80)."""
_UNPRINTABLE = re.compile(r"[\x00-\x20\x7f]")


def _malformed(message: str) -> str:
    """Which rule of HTTP an answer broke, from the client's parser's ``message`` (its
    first line names the rule; the rest quotes the raw bytes, never shown): it said "not
    well-formed HTTP" of each, naming none."""
    reason = message.strip().partition("\n")[0].strip().rstrip(":").partition(": b")[0]
    told = reason.lower()
    twice = _TWICE.search(reason)
    if "transfer-encoding" in told and "content-length" in told:
        return (
            "both Content-Length and Transfer-Encoding, which no sender may send together"
            " (RFC 9112 6.2)"
        )
    if twice is not None:  # "Duplicate Content-Length", "Duplicate 'Content-Type' header found."
        return f"two `{twice.group(1)}` headers, where one is allowed"
    if "chunk" in told:  # "Invalid character in chunk size"
        return f"a chunked body whose framing is broken ({reason})"
    if "content-length" in told:  # "Invalid character in Content-Length"
        return "a Content-Length that is not a number"
    if "header token" in told:  # `X Bad: 1`, a line without a colon
        return "a header line that is not `Name: value` (no colon, or a name with a space)"
    if "invalid http header" in told or "header value char" in told:  # "…: b'a\\x00b'"
        return "a header value holding a character no header may hold (such as NUL)"
    return reason or "the client's parser gave no reason"


_TWICE = re.compile(r"duplicate '?([\w-]+)'?", re.IGNORECASE)


AUTHORIZATION_HEADER = "each request's Authorization header"
"""Where a token goes when a URL is no place for it: what the proxy passes on, and what a
client of the OpenAPI document's servers sends (``upstream_url``'s ``token``)."""


def upstream_url(text: str, *, token: str = AUTHORIZATION_HEADER, also: str = "") -> str:
    """``text`` as an upstream base URL (``http(s)://host[:port][/prefix]``: a host name or
    IP address, a port from 1 to 65535, any path as the prefix of the API's paths), or
    ``UpstreamError`` saying what is wrong with it (one that is no URL a request can go to
    was taken, and each request then "could not be reached"). ``token``: where the token
    goes instead of the URL, for the command that asks (PROFILE_API_TOKEN for ``record``);
    ``also``: what else the setting takes, after what a URL is (``openapi``'s path)."""
    from yarl import URL  # (a tenth of a second to import: only the proxy and recorder ask)

    unprintable = _UNPRINTABLE.search(text)
    if unprintable is not None:  # yarl drops a tab, and keeps a NUL in the host
        found = unprintable.group()
        what = "a space" if found == " " else f"control character 0x{ord(found):02x}"
        raise UpstreamError(f"`{repr(text)[1:-1]}` holds {what}, which no URL does")
    try:
        url = URL(text)
        host = url.host  # decoded when asked for: `xn--zz` fails only then
    except UnicodeError:  # it was argparse's "invalid _upstream value", of the flag
        raise UpstreamError(
            f"`{text}` is not a URL: its host is no valid internationalized domain name"
        ) from None
    except (ValueError, TypeError) as exc:
        if "port" in str(exc).lower():  # "Port out of range 0-65535", "port can't be converted"
            raise UpstreamError(f"`{text}`: its port is no number from 1 to 65535") from None
        raise UpstreamError(f"`{text}` is not a URL: {exc}") from None
    if url.scheme not in ("http", "https") or not host:
        raise UpstreamError(
            f"`{text}` is not an http(s) URL with a host, such as https://profiles.segment.com"
            + also
        )
    if url.user is not None or url.password is not None:  # (not shown: a secret)
        raise UpstreamError(
            "the URL must not hold credentials (a user or password before the host);"
            f" the token goes in {token}"
        )
    problem = _host_problem(url.raw_host or "")
    if problem:
        raise UpstreamError(f"`{text}`: {problem}")
    written_port = _WRITTEN_PORT.match(text)
    if url.explicit_port == 0 or (
        written_port is not None
        and written_port.group(1)
        and port_number(written_port.group(1)) is None
    ):
        raise UpstreamError(f"`{text}`: its port is no number from 1 to 65535")
    if url.query_string or url.fragment:
        raise UpstreamError(f"`{text}`: give the base URL only, without a query or fragment")
    base = str(url).rstrip("/")
    # Offered without the version as its path reads (`/v1%2F` is /v1/).
    problem = version_doubled(text, url.path, str(url.with_path(url.path)))
    if problem:
        raise UpstreamError(problem)
    return base


def version_doubled(text: str, path: str, base: str) -> str | None:
    """What is wrong with ``text``, a base URL (``base`` as read) whose ``path`` ends in the
    API's version, else None. SDKs and .env files often write the API's URL so: each
    request went to /v1/v1/spaces/…, a 404 — and a test that a profile is unknown passed
    against every profile."""
    version = API_PREFIX.rstrip("/")
    if not path.rstrip("/").lower().endswith(version):
        return None
    return (
        f"`{text}`: the API's paths begin with {version} ({API_PREFIX}spaces/…), which this"
        f" URL's path would double: give it without, {base.rstrip('/')[: -len(version)] or '/'}"
    )


def _host_problem(host: str) -> str | None:
    """What is wrong with ``host`` (as yarl writes it) as the host of an upstream URL, else
    None: the one rule of which hosts it may name. An IP address as written (IPv4's four
    decimal numbers from 0 to 255, IPv6's form), or a host name whose last label is no
    number. A host that ends in one is an IPv4 address to a browser and to the C library's
    resolver (``0x7f000001``, ``127.1`` and ``0177.0.0.1`` are 127.0.0.1 there) and no
    address to other readers of URLs (Python's ``ipaddress``), and a typo
    (``256.1.1.1``, ``1.2.3.4.5``) was taken as a name, each request then "could not be
    reached"."""
    import socket

    if is_ip_address(host):
        return None
    if not _HOST_NAME.fullmatch(host):
        return (
            f"`{host}` is no host name (letters, digits, `-`, `_` and dots between names,"
            " such as profiles.segment.com) nor IP address"
        )
    last = host.rstrip(".").rpartition(".")[2]
    if not _NUMBER_LABEL.fullmatch(last):
        return None
    try:
        meant = socket.inet_ntoa(socket.inet_aton(host.rstrip(".")))
    except OSError:
        return (
            f"`{host}` ends in a number, so it can only be an IPv4 address, and it is none:"
            " an IPv4 address is four numbers from 0 to 255, such as 127.0.0.1"
        )
    return (
        f"`{host}` is the IPv4 address {meant} to some readers of URLs and no address to"
        f" others: write it as {meant}"
    )


def parse_size(text: str) -> int:
    """Bytes from ``32000000``, ``32MB`` or ``32M`` (10**6), ``32MiB`` (2**20), KB and GB
    alike, ``1.5MB``: a whole number of bytes from 1 to 10GB, else ValueError saying what a
    size is."""
    found = _SIZE.fullmatch(text.strip()) if text.isascii() else None
    whole = ""
    if found is not None:
        unit = (found.group(2) or "").lower().removesuffix("b")  # "", k, ki, m, mi, g, gi
        power = "kmg".index(unit[0]) + 1 if unit else 0
        exact = Decimal(found.group(1)) * (1024 if unit.endswith("i") else 1000) ** power
        if 1 <= exact <= MOST_BODY:
            if exact == exact.to_integral_value():
                return int(exact)
            whole = f" (a whole number of bytes; it is {exact.normalize():f} bytes)"
    raise ValueError(
        f"`{text}` is not a size from 1 byte to 10GB, such as 64MB, 500KB, 64MiB or 1000000{whole}"
    )


class BodyTooLarge(Exception):
    """An upstream body over the limit: nothing of it is kept, the connection is closed."""

    def __init__(
        self, limit: int, declared: int | None, status: int, headers: CIMultiDictProxy[str]
    ) -> None:
        super().__init__(limit, declared, status)
        self.limit = limit
        self.declared = declared
        """The body's ``Content-Length`` when it gave one (and no content coding)."""
        self.status = status
        self.headers = headers

    def about(self, flag: str = MAX_BODY_FLAG) -> str:
        """What happened, which limit, and how to raise it (``flag`` names the setting)."""
        return over_limit(self.limit, self.declared, flag)


def over_limit(limit: int, declared: int | None, flag: str = MAX_BODY_FLAG) -> str:
    """Why a body over ``limit`` bytes was refused (``declared``: its Content-Length, when
    it gave one), and how to raise the limit (``flag`` names the setting); never advice
    the setting then refuses (over 10GB)."""
    limit_text = f"the {flag} limit of {counted(limit, 'byte')}"
    if declared is not None:
        told = f"the body is {counted(declared, 'byte')} (its Content-Length), over {limit_text}"
        wanted = declared
    else:
        told = f"the body is over {limit_text} (reading stopped there)"
        wanted = 4 * limit
    if limit >= MOST_BODY or (declared or 0) > MOST_BODY:
        return f"{told}; {flag} takes 10GB at most, so no setting passes it"
    advised = min(math.ceil(wanted / 1e6), MOST_BODY // 10**6)
    return f"{told}; raise it with {flag} SIZE, such as {flag} {advised}MB"


def has_body(method: str, status: int) -> bool:
    """Whether an answer with ``status`` to ``method`` can carry a body (RFC 9110 6.4.1): not
    to HEAD, nor a 1xx, 204 or 304, whatever their ``Content-Length`` says."""
    return method.upper() != "HEAD" and status >= 200 and status not in (204, 304)


DECODED_CODINGS = frozenset({"gzip", "deflate", "br", "zstd"})
"""The content codings aiohttp's client session undoes as it reads a body (and as it
reads them: the header's whole value, one coding, in ASCII); a body in any other coding
is read as it was sent."""


def read_decoded(headers: Mapping[str, str]) -> bool:
    """Whether a body with these headers is read decoded: its ``Content-Encoding`` is one
    the client session undoes (then the body read is not the body sent)."""
    coded = headers.get("Content-Encoding", "")
    return coded.isascii() and coded.lower() in DECODED_CODINGS


def declared_size(content_length: int | None, headers: Mapping[str, str]) -> int | None:
    """The size of a body as read, from its ``Content-Length``: none when the body is read
    decoded (that length is the coded body's)."""
    return None if read_decoded(headers) else content_length


async def read_limited(content: aiohttp.StreamReader, limit: int) -> bytes | None:
    """All of ``content``, or None once it passes ``limit`` bytes (the rest is not read)."""
    chunks = []
    size = 0
    async for chunk in content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def read_body(answer: aiohttp.ClientResponse, limit: int) -> bytes:
    """The whole body of ``answer``, or ``BodyTooLarge`` once it passes ``limit`` bytes
    (then the connection is closed, the rest never read). The limit is on a body actually
    sent: an answer that has none by definition (to HEAD; a 1xx, 204 or 304) passes
    whatever its ``Content-Length`` says, as that is the size of a body not sent."""
    if not has_body(answer.method, answer.status):
        return await answer.read()  # b"": the client reads no body for these
    declared = declared_size(answer.content_length, answer.headers)
    if declared is not None and declared > limit:
        answer.close()
        raise BodyTooLarge(limit, declared, answer.status, answer.headers)
    body = await read_limited(answer.content, limit)
    if body is None:
        answer.close()
        raise BodyTooLarge(limit, None, answer.status, answer.headers)
    return body
