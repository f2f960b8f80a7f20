"""The servers' sockets: what uvicorn builds on them."""

from __future__ import annotations

import asyncio
import socket

from cors_harness.server import listen


def test_connections_to_listened_sockets_send_without_nagle() -> None:
    # uvicorn serves a socket given to it through asyncio's create_server, which turns Nagle's
    # algorithm off only for sockets whose proto says TCP. With it on, a response body written
    # after its headers on a kept-alive connection waits 40 ms for the client's delayed ACK.
    async def nodelay_of_accepted(listening: socket.socket) -> int:
        accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        class Check(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                sock = transport.get_extra_info("socket")
                accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        server = await asyncio.get_running_loop().create_server(Check, sock=listening)
        async with server:
            _, writer = await asyncio.open_connection(*listening.getsockname())
            try:
                return await asyncio.wait_for(accepted, 5)
            finally:
                writer.close()

    with listen([0], name="test") as (listening,):
        assert asyncio.run(nodelay_of_accepted(listening)) != 0
