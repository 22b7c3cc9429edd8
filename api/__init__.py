"""The JSON API under /api/v1 (FastAPI). `create_app` builds the whole web application."""

from api.app import create_app

__all__ = ["create_app"]
