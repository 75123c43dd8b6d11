"""What a connection may take and how many there may be (``serve``/``proxy`` flags set
them), apart from the connections themselves (``connections``): the command line reads
these before it imports the server, which a ``check`` or ``generate`` never needs.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass

HEADER_TIMEOUT = 10.0
"""Seconds a connection has to send the headers of its first request."""
KEEPALIVE_TIMEOUT = 15.0
"""Seconds an idle keep-alive connection (or one half-way through the headers of its next
request) is kept open."""
BODY_TIMEOUT = 10.0
"""Seconds a request's body has to arrive once its headers have (and, at the connection
cap, a client to read part of an answer before its connection makes room)."""


def file_limit() -> int:
    """The soft limit of open files of this process."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def default_max_connections() -> int:
    """Connections one process serves at once: its file limit less room for everything
    else it opens (fixtures, logs, the event loop, a test runner)."""
    limit = file_limit()
    return max(8, min(limit - 64, int(limit * 0.9)))


@dataclass(frozen=True)
class Limits:
    """What a connection may take (``serve``/``proxy`` flags set them)."""

    header_timeout: float = HEADER_TIMEOUT
    keepalive_timeout: float = KEEPALIVE_TIMEOUT
    body_timeout: float = BODY_TIMEOUT
    max_connections: int | None = None
    """None: ``default_max_connections()``."""
