"""The FastAPI backend that scenarios configure; see `app.create_app`."""

from cors_harness._backend.app import create_app

__all__ = ["create_app"]
