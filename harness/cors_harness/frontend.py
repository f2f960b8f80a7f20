"""The static frontend app: the same page on every frontend origin."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.staticfiles import StaticFiles

FIXTURES = Path(__file__).resolve().parent / "_frontend"
PAGE = "/index.html"


def create_frontend_app(directory: Path = FIXTURES) -> Starlette:
    if not (directory / "probe.js").is_file():
        raise FileNotFoundError(f"Directory '{directory}' has no probe.js")
    app = Starlette()
    app.mount("/", StaticFiles(directory=directory, html=True))
    return app
