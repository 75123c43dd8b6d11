"""Carry out a fired fault rule: answer with an error, delay, or break the connection.

Connection faults end the handler with ``CancelledError`` after dealing with the socket
themselves: aiohttp then writes nothing and logs nothing, as when a client goes away.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from http import HTTPStatus
from typing import NoReturn

from aiohttp import web

from profilemock.api import FAULT_HEADER, default_body
from profilemock.faults import MAX_HANG_NS, FaultRule
from profilemock.jsonbytes import encode
from profilemock.mockserver.state import ServerState
from profilemock.realism import GATEWAY_STATUSES, GatewayBody
from profilemock.timeutil import NS_PER_SECOND

FIRED = web.RequestKey("profilemock_fault_fired", FaultRule)
"""The fault rule that fired on a request, for its request-log line (a connection broken
or held has no answer to carry ``FAULT_HEADER``)."""


GATEWAY_PAGE = (
    "<html>\r\n<head><title>{0}</title></head>\r\n<body>\r\n<center><h1>{0}</h1></center>\r\n"
    "</body>\r\n</html>\r\n"
)
"""What load balancers answer for 502, 503 and 504 (nginx's and AWS's pages look so)."""


NO_BODY_STATUSES = frozenset((204, 205, 304))
"""Statuses whose answers carry no body (RFC 9110): aiohttp drops one for 204 and 304, but
sends it with a 205. (The fixture schema refuses a rule that gives one a ``body``.)"""


def respond(rule: FaultRule, gateway: GatewayBody | None = None) -> web.Response:
    """The injected answer of a rule with ``status``; ``gateway`` (a realism switch) makes
    a 502, 503 or 504 without a body of its own an HTML page or an empty body."""
    assert rule.status is not None
    headers = {**rule.headers, FAULT_HEADER: rule.id}
    if rule.status == 401 and not any(k.lower() == "www-authenticate" for k in headers):
        headers["WWW-Authenticate"] = "Basic"  # as the API's own 401 (RFC 9110 requires it)
    if rule.status in NO_BODY_STATUSES or (300 <= rule.status < 400 and not rule.has_body):
        # A redirect is the server's, not the API's: no envelope of an error it is not
        # (a load balancer's or a framework's page says only where it leads, as Location does).
        return web.Response(status=rule.status, headers=headers)
    if gateway is not None and rule.status in GATEWAY_STATUSES and not rule.has_body:
        if gateway == "empty":
            return web.Response(status=rule.status, headers=headers)
        title = f"{rule.status} {HTTPStatus(rule.status).phrase}"
        page = GATEWAY_PAGE.format(title).encode()
        return _answer(page, rule.status, headers, "text/html; charset=utf-8")
    if not rule.has_body:
        return _answer(encode(default_body(rule.status)), rule.status, headers)
    if isinstance(rule.body, str):
        return _answer(rule.body.encode(), rule.status, headers)
    return _answer(encode(rule.body), rule.status, headers)


def _answer(
    body: bytes, status: int, headers: dict[str, str], content_type: str = "application/json"
) -> web.Response:
    """A fault's answer labelled ``content_type``, unless the rule's ``headers`` give a
    ``Content-Type`` of their own (a gateway's HTML page, say): theirs is sent."""
    if not any(name.lower() == "content-type" for name in headers):
        headers = {**headers, "Content-Type": content_type}
    return web.Response(body=body, status=status, headers=headers)


async def delay(rule: FaultRule, request: web.Request, state: ServerState) -> None:
    """The rule's latency; a reset or shutdown ends it, and the request with it (it
    belongs to what came before the reset, and a stopping server answers no more)."""
    if rule.latency is None:
        return
    seconds = min(rule.latency.draw(rule.rng), MAX_HANG_NS) / NS_PER_SECOND
    if await state.hang(seconds):
        if request.transport is not None:
            request.transport.close()
        raise asyncio.CancelledError


async def break_connection(rule: FaultRule, request: web.Request, state: ServerState) -> NoReturn:
    """reset (TCP RST), empty (close without answering) or hang (then close)."""
    transport = request.transport
    if rule.fault == "hang":
        await state.hang(rule.hang_ns / NS_PER_SECOND)
    if transport is not None:
        if rule.fault == "reset":
            sock = transport.get_extra_info("socket")
            if sock is not None:
                # Linger 0: close() sends RST instead of FIN.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        else:
            transport.close()
    raise asyncio.CancelledError


async def break_body(rule: FaultRule, request: web.Request, response: web.Response) -> web.Response:
    """truncate (headers promise the whole body, half comes) or malformed (broken JSON)."""
    body = bytes(response.body or b"")  # type: ignore[arg-type]
    if rule.fault == "malformed":
        broken = body[: max(1, len(body) // 2)] + b'\x00{"'
        return _answer(broken, response.status, {**rule.headers, FAULT_HEADER: rule.id})
    stream = web.StreamResponse(
        status=response.status, headers={**response.headers, **rule.headers, FAULT_HEADER: rule.id}
    )
    stream.content_length = len(body)
    await stream.prepare(request)
    if request.method != "HEAD":  # an answer to HEAD has no body (RFC 9110 §9.3.2) to cut
        await stream.write(body[: len(body) // 2])
    if request.transport is not None:
        request.transport.close()
    raise asyncio.CancelledError
