"""Access to the runtime from route handlers."""

from __future__ import annotations

from fastapi import Request

from meshforge.runtime import Runtime


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt
