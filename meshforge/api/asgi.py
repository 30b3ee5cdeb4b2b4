"""``meshforge.api.asgi:app`` for ASGI servers (uvicorn, gunicorn workers)."""

from __future__ import annotations

from meshforge.api.app import create_app

app = create_app()
