"""The FastAPI backend that scenarios configure; see `app.create_app`."""

from backend_fixtures.app import create_app

__all__ = ["create_app"]
