from __future__ import annotations

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware


def create_app(allowed: list[str]) -> FastAPI:
    app = FastAPI()
    app.add_middleware(
        CORSMiddleware,
        allow_origins=allowed,
        allow_credentials=True,
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type"],
    )

    @app.get("/api/me")
    async def me() -> dict[str, str]:
        return {"user": "ada"}

    @app.delete("/api/me")
    async def forget() -> dict[str, bool]:
        return {"deleted": True}

    return app


# The origin this app's real deployment allows; tests serve a frontend on that port.
app = create_app(["http://localhost:38517"])


def production() -> FastAPI:
    """The app as a factory builds it for its production origin."""
    return create_app(["https://app.example.com"])
