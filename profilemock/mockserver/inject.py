"""Carry out a fired fault rule: answer with an error, delay, or break the connection.

Connection faults end the handler with ``CancelledError`` after dealing with the socket
themselves: aiohttp then writes nothing and logs nothing, as when a client goes away.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from typing import NoReturn

from aiohttp import web

from profilemock.api import default_body
from profilemock.faults import FaultRule
from profilemock.mockserver.render import json_response
from profilemock.mockserver.state import ServerState
from profilemock.timeutil import NS_PER_SECOND

FAULT_HEADER = "Profilemock-Fault"


def respond(rule: FaultRule) -> web.Response:
    """The injected answer of a rule with ``status``."""
    assert rule.status is not None
    headers = {**rule.headers, FAULT_HEADER: rule.id}
    if not rule.has_body:
        return json_response(default_body(rule.status), rule.status, headers)
    if isinstance(rule.body, str):
        return web.Response(
            body=rule.body.encode(),
            status=rule.status,
            headers=headers,
            content_type="application/json",
        )
    return json_response(rule.body, rule.status, headers)


async def delay(rule: FaultRule) -> None:
    if rule.latency is not None:
        await asyncio.sleep(rule.latency.draw(rule.rng) / NS_PER_SECOND)


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
        headers = {**rule.headers, FAULT_HEADER: rule.id}
        return web.Response(
            body=broken, status=response.status, headers=headers, content_type="application/json"
        )
    stream = web.StreamResponse(
        status=response.status, headers={**response.headers, **rule.headers, FAULT_HEADER: rule.id}
    )
    stream.content_length = len(body)
    await stream.prepare(request)
    await stream.write(body[: len(body) // 2])
    if request.transport is not None:
        request.transport.close()
    raise asyncio.CancelledError
