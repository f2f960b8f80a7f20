"""The standard backend: the routes every scenario can call, with the CORS settings it gives."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode

from fastapi import FastAPI, Request, Response, WebSocket, WebSocketDisconnect
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, RedirectResponse

from cors_harness._backend.layers import (
    AddHeader,
    LayerSpec,
    RawRoutes,
    RawRouteSpec,
    RequireAuthorization,
)
from cors_harness.recorder import PROBE_PARAM

if TYPE_CHECKING:
    from collections.abc import Sequence

# What /redirect answers with: every status that makes a browser follow a Location.
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Methods /anything accepts: the standard ones and two that CORSMiddleware's "*" does not cover.
ANY_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "PURGE", "REPORT"]


class DeliberateFailure(RuntimeError):
    """Raised by GET /error, never handled: the app answers 500 from Starlette's error layer."""


def create_app(
    cors: dict[str, Any] | None,
    layers: Sequence[LayerSpec] = (),
    routes: Sequence[RawRouteSpec] = (),
) -> FastAPI:
    """The standard app; `cors` is CORSMiddleware's keyword arguments, None for no middleware.

    `layers` are listed from the outermost in, each outside or inside CORS; `routes` are answered
    before any of them.
    """
    app = FastAPI(title="cors-harness backend", openapi_url=None, docs_url=None, redoc_url=None)
    # add_middleware puts each new layer outside the ones before it: add from the innermost.
    for layer in reversed([la for la in layers if la.placement == "inside-cors"]):
        _add_layer(app, layer)
    if cors is not None:
        app.add_middleware(CORSMiddleware, **cors)
    for layer in reversed([la for la in layers if la.placement == "outside-cors"]):
        _add_layer(app, layer)
    if routes:
        app.add_middleware(RawRoutes, routes=list(routes))

    @app.get("/")
    async def read_root() -> dict[str, str]:
        return {"message": "Hello, World!"}

    @app.get("/items/")
    async def list_items(response: Response) -> list[dict[str, Any]]:
        response.headers["X-Total-Count"] = "2"
        response.headers["X-Request-Id"] = "req-1"
        return [{"id": 1}, {"id": 2}]

    @app.post("/items/")
    async def create_item(item: dict[str, Any]) -> dict[str, Any]:
        return item

    @app.put("/items/{item_id}")
    async def replace_item(item_id: int, item: dict[str, Any]) -> dict[str, Any]:
        return {"id": item_id, **item}

    @app.patch("/items/{item_id}")
    async def update_item(item_id: int, item: dict[str, Any]) -> dict[str, Any]:
        return {"id": item_id, **item}

    @app.delete("/items/{item_id}")
    async def delete_item(item_id: int) -> dict[str, int]:
        return {"deleted": item_id}

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, Any]:
        body = await request.body()
        return {"content_type": request.headers.get("content-type"), "length": len(body)}

    @app.get("/error")
    async def error() -> None:
        raise DeliberateFailure("unhandled exception raised on purpose by GET /error")

    @app.get("/slow")
    async def slow(request: Request, seconds: float = 1.0) -> dict[str, float]:
        # Stops early when the page gives up, so no handler outlives the probe.
        deadline = asyncio.get_running_loop().time() + min(seconds, 30.0)
        while asyncio.get_running_loop().time() < deadline:
            if await request.is_disconnected():
                break
            await asyncio.sleep(0.05)
        return {"slept": seconds}

    @app.get("/cookies/set")
    async def set_cookie(
        name: str,
        value: str = "1",
        samesite: Literal["lax", "strict", "none"] | None = None,
        secure: bool = False,
        httponly: bool = True,
    ) -> Response:
        response = JSONResponse({"set": name})
        # Starlette always writes a SameSite attribute; None here means "leave it out" so the
        # browser's own default applies, which Starlette cannot express.
        header = f"{name}={value}; Path=/"
        if samesite is not None:
            header += f"; SameSite={samesite.capitalize()}"
        if secure:
            header += "; Secure"
        if httponly:
            header += "; HttpOnly"
        response.headers.append("Set-Cookie", header)
        return response

    @app.get("/cookies/")
    async def read_cookies(request: Request) -> dict[str, list[str]]:
        return {"names": sorted(request.cookies)}

    @app.api_route("/anything", methods=ANY_METHODS)
    async def anything(request: Request) -> dict[str, str]:
        return {"method": request.method}

    @app.api_route("/redirect", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def redirect(request: Request, to: str = "/", status: int = 307) -> Response:
        # `to` is a path here or an absolute URL (another backend: {backend:NAME}); the probe id
        # goes along, so that every hop of the chain is the same probe's evidence.
        if status not in REDIRECT_STATUSES:
            return JSONResponse(
                {"detail": f"status must be one of {sorted(REDIRECT_STATUSES)}"}, status_code=400
            )
        probe = request.query_params.get(PROBE_PARAM)
        if probe is not None:
            to += ("&" if "?" in to else "?") + urlencode({PROBE_PARAM: probe})
        return RedirectResponse(to, status_code=status)

    allowed = set((cors or {}).get("allow_origins", []))

    @app.websocket("/ws/echo")
    async def socket_echo(websocket: WebSocket) -> None:
        # CORSMiddleware leaves WebSocket handshakes alone, so any origin gets here; the answer
        # names the cookies the handshake carried, as an endpoint that trusts them would act.
        await websocket.accept()
        await _answer(websocket)

    @app.websocket("/ws/checked")
    async def socket_checked(websocket: WebSocket) -> None:
        # The fix: the endpoint checks Origin against the app's allowed origins itself.
        if "*" not in allowed and websocket.headers.get("origin") not in allowed:
            await websocket.close(code=1008)
            return
        await websocket.accept()
        await _answer(websocket)

    return app


async def _answer(websocket: WebSocket) -> None:
    try:
        message = await websocket.receive_text()
        cookies = ", ".join(sorted(websocket.cookies)) or "none"
        await websocket.send_text(f"{message}: cookies {cookies}")
        await websocket.close()
    except WebSocketDisconnect:
        return


def _add_layer(app: FastAPI, layer: LayerSpec) -> None:
    if layer.kind == "auth-401":
        app.add_middleware(RequireAuthorization)
    else:
        app.add_middleware(AddHeader, header=layer.header, value=layer.value)
