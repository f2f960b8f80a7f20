"""An app that opens its resources in its lifespan, as FastAPI apps with a database do."""

from __future__ import annotations

import asyncio
import os
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

# A file the lifespan appends "startup" and "shutdown" to, for tests to see that both ran.
LOG_VARIABLE = "CORS_HARNESS_TEST_LIFESPAN_LOG"
# The origin the module-level apps allow; tests serve a frontend on that port.
ORIGIN = "http://localhost:38518"


def _note(event: str) -> None:
    path = os.environ.get(LOG_VARIABLE)
    if path:
        with open(path, "a", encoding="utf-8") as log:
            log.write(f"{event}\n")


def create_app(allowed: list[str], *, db_available: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, str]]:
        _note("startup")
        if not db_available:
            raise RuntimeError("db unavailable")
        app.state.greeting = "hello"
        yield {"db": "connected"}
        _note("shutdown")

    app = FastAPI(lifespan=lifespan)
    app.add_middleware(CORSMiddleware, allow_origins=allowed, allow_credentials=True)

    @app.get("/api/greeting")
    async def greeting(request: Request) -> dict[str, str]:
        # Both kinds of lifespan state: set on the app, and yielded (request.state).
        return {"greeting": request.app.state.greeting, "db": request.state.db}

    @app.get("/api/slow")
    async def slow() -> dict[str, str]:
        # Long enough for a test to interrupt the run while a probe waits for it.
        await asyncio.sleep(5)
        return {"slept": "5 s"}

    return app


app = create_app([ORIGIN])
broken = create_app([ORIGIN], db_available=False)
