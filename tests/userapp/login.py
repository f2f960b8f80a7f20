"""An API with a cookie session: a SPA logs in with POST /login, then calls GET /me."""

from __future__ import annotations

from typing import Literal

from fastapi import Cookie, FastAPI, HTTPException, Response
from fastapi.middleware.cors import CORSMiddleware

SESSION = "s3cret"


def create_app(allowed: list[str], samesite: Literal["lax", "strict", "none"] = "lax") -> FastAPI:
    app = FastAPI()
    app.add_middleware(
        CORSMiddleware,
        allow_origins=allowed,
        allow_credentials=True,
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type"],
    )

    @app.post("/login")
    async def login(response: Response) -> dict[str, str]:
        response.set_cookie("session", SESSION, samesite=samesite, httponly=True)
        return {"user": "ada"}

    @app.get("/sign-in")
    async def sign_in_page(response: Response) -> dict[str, str]:
        # The API's own sign-in page, which the user visits at the top level.
        response.set_cookie("session", SESSION, samesite=samesite, httponly=True)
        return {"signed_in": "ada"}

    @app.get("/me")
    async def me(session: str | None = Cookie(None)) -> dict[str, str]:
        if session != SESSION:
            raise HTTPException(status_code=401, detail="not logged in")
        return {"user": "ada"}

    return app
