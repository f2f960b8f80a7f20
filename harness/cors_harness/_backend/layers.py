"""Extra ASGI layers a scenario can put around CORSMiddleware, and raw routes that bypass it.

Each is written the way an application would write it, so the pitfall it shows is the real one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

Placement = Literal["outside-cors", "inside-cors"]
# The harness sets cookies through this route before a request; an auth layer must let it by.
SETUP_PREFIX = "/cookies/set"


@dataclass(frozen=True)
class LayerSpec:
    kind: Literal["auth-401", "add-header"]
    placement: Placement
    header: str = ""
    value: str = ""


@dataclass(frozen=True)
class RawAnswer:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class RawRouteSpec:
    path: str
    preflight: RawAnswer
    response: RawAnswer


async def _answer(send: Send, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    if body:
        raw += [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class RequireAuthorization:
    """Answers 401 to any request without an Authorization header, as many auth layers do.

    A preflight never carries Authorization, so outside CORS this layer refuses every preflight.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(SETUP_PREFIX):
            await self.app(scope, receive, send)
            return
        if any(name == b"authorization" for name, _ in scope["headers"]):
            await self.app(scope, receive, send)
            return
        body = json.dumps({"detail": "Not authenticated"}).encode()
        await _answer(send, 401, [("WWW-Authenticate", "Bearer")], body)


class AddHeader:
    """Adds one header to every response, as a proxy or a hand-written CORS layer would."""

    def __init__(self, app: ASGIApp, header: str, value: str) -> None:
        self.app = app
        self.header = (header.lower().encode("latin-1"), value.encode("latin-1"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def add(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), self.header]
            await send(message)

        await self.app(scope, receive, add if scope["type"] == "http" else send)


class RawRoutes:
    """Answers the declared paths with exactly the declared status and headers."""

    def __init__(self, app: ASGIApp, routes: list[RawRouteSpec]) -> None:
        self.app = app
        self.routes = {route.path: route for route in routes}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.routes.get(scope["path"]) if scope["type"] == "http" else None
        if route is None:
            await self.app(scope, receive, send)
            return
        preflight = scope["method"] == "OPTIONS" and any(
            name == b"access-control-request-method" for name, _ in scope["headers"]
        )
        answer = route.preflight if preflight else route.response
        body = b"" if preflight else json.dumps({"raw": route.path}).encode()
        await _answer(send, answer.status, answer.headers, body)
