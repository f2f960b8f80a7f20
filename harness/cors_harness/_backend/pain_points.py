"""FastAPI apps written the way users write them, for `scenarios/fastapi_pain_points.yaml`.

Each is what a user's app looks like when it trips over CORS as questions about FastAPI report
it; the scenario serves them on the production origins it names (`https://api*.example.com`),
so the origins are written here as a user would write them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from starlette.middleware.base import BaseHTTPMiddleware

from cors_harness.frontend import FIXTURES

if TYPE_CHECKING:
    from starlette.middleware.base import RequestResponseEndpoint
    from starlette.responses import Response

SPA = "https://app.example.com"


def _app() -> FastAPI:
    return FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


def _with_cors(app: FastAPI, expose: list[str] | None = None) -> None:
    """CORSMiddleware as a credentialed API for its SPA sets it up."""
    app.add_middleware(
        CORSMiddleware,
        allow_origins=[SPA],
        allow_credentials=True,
        allow_methods=["GET", "POST", "PUT", "DELETE"],
        allow_headers=["Authorization", "Content-Type"],
        expose_headers=expose or [],
    )


# --- An exception handler for Exception, as the advice to "fix" CORS on errors goes.
handled = _app()
_with_cors(handled)


@handled.exception_handler(Exception)
async def any_exception(request: Request, exc: Exception) -> JSONResponse:
    # Starlette installs a handler for Exception in ServerErrorMiddleware, outside every
    # middleware the app adds: CORSMiddleware never sees this response.
    return JSONResponse({"detail": "internal error"}, status_code=500)


@handled.get("/fails")
async def fails() -> dict[str, str]:
    raise RuntimeError("a bug")


@handled.get("/not-found")
async def not_found() -> dict[str, str]:
    raise HTTPException(status_code=404, detail="no such item")


# --- Authentication in a middleware that raises HTTPException, added after CORSMiddleware.
class TokenMiddleware(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if request.url.path.startswith("/private") and "authorization" not in request.headers:
            # Raised outside the routes, where FastAPI's HTTPException handler does not reach.
            raise HTTPException(status_code=401, detail="missing token")
        return await call_next(request)


guarded = _app()
_with_cors(guarded)
# Added last, so it is the outermost layer: outside CORSMiddleware.
guarded.add_middleware(TokenMiddleware)


@guarded.get("/private/items")
async def private_items() -> list[int]:
    return [1, 2]


# --- A route-level bearer-token dependency: does it see preflights?
bearer = HTTPBearer()
dependent = _app()
_with_cors(dependent)


@dependent.put("/items/{item_id}")
async def update_item(
    item_id: int, token: Annotated[HTTPAuthorizationCredentials, Depends(bearer)]
) -> dict[str, object]:
    return {"id": item_id, "token": token.credentials}


# --- allow_origins given as one comma-separated string, as read from an environment variable.
substring = _app()
substring.add_middleware(
    CORSMiddleware,
    # Starlette takes any sequence of strings; a str is one, of single characters, and its
    # `origin in allow_origins` becomes a substring test.
    allow_origins="https://app.example.com,https://admin.example.com",
)


@substring.get("/items/")
async def substring_items() -> list[int]:
    return [1, 2]


# --- A mounted sub-application and StaticFiles under an app with CORSMiddleware.
mounted = _app()
_with_cors(mounted)
sub = _app()


@sub.get("/items/")
async def sub_items() -> list[int]:
    return [3]


mounted.mount("/v2", sub)
mounted.mount("/static", StaticFiles(directory=FIXTURES))


# --- A file download: FileResponse names the file in Content-Disposition.
@mounted.get("/download")
async def download() -> FileResponse:
    return FileResponse(FIXTURES / "probe.js", filename="report.csv", media_type="text/csv")


exposing = _app()
_with_cors(exposing, expose=["Content-Disposition"])
exposing.add_api_route("/download", download)


__all__ = ["dependent", "exposing", "guarded", "handled", "mounted", "substring"]
