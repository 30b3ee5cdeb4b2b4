"""``/api/v1/build``: submit a build and follow it."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from fastapi.responses import JSONResponse

from meshforge.api.deps import runtime
from meshforge.builds import states
from meshforge.builds.service import BuildView
from meshforge.requests.model import BuildRequest
from meshforge.requests.validate import check_buildable, normalise
from meshforge.runtime import Runtime

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["builds"])


def _iso(view: BuildView) -> str:
    return view.build.enqueued_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def build_body(view: BuildView) -> tuple[int, dict[str, Any]]:
    """The status code and body asu's clients expect for a build's state."""
    build = view.build
    common: dict[str, Any] = {
        "request_hash": build.request_hash,
        "enqueued_at": _iso(view),
    }
    if build.request.get("revision"):
        # Snapshot builds are pinned to the upstream revision they resolved.
        common["revision"] = build.request["revision"]
    if build.state == states.DONE and build.result:
        body = {**build.result, **common, "bin_dir": build.request_hash}
        return 200, {
            **body,
            "status": 200,
            "detail": "done",
            "imagebuilder_status": "done",
        }
    if build.state == states.FAILED:
        kind = "permanent" if build.error_permanent else "transient"
        return 500, {
            **common,
            "status": 500,
            "detail": f"Error: {build.error}",
            "error_kind": kind,
            "imagebuilder_status": "failed",
            "stdout": build.stdout,
            "stderr": build.stderr,
            "request": build.request,
        }
    if build.state == states.STARTED:
        return 202, {
            **common,
            "status": 202,
            "detail": "started",
            "imagebuilder_status": build.imagebuilder_status,
            "queue_position": 0,
            "request": build.request,
        }
    return 202, {
        **common,
        "status": 202,
        "detail": "queued",
        "queue_position": view.queue_position,
        "imagebuilder_status": "queued",
    }


def _headers(view: BuildView, status: int) -> dict[str, str]:
    build = view.build
    step = {200: "done", 500: "failed"}.get(status, build.imagebuilder_status)
    if build.state == states.QUEUED:
        step = "queued"
    return {"X-Imagebuilder-Status": step, "X-Queue-Position": str(view.queue_position)}


def _respond(view: BuildView) -> JSONResponse:
    status, body = build_body(view)
    return JSONResponse(body, status, _headers(view, status))


def _client(request: BuildRequest, user_agent: str | None) -> str:
    if request.client:
        return request.client
    if user_agent and user_agent.startswith("auc"):
        return user_agent
    return "unknown/0"


@router.post("/build", status_code=202, responses={200: {}, 400: {}, 422: {}, 529: {}})
def submit_build(
    request: BuildRequest,
    rt: Annotated[Runtime, Depends(runtime)],
    user_agent: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Submit a build; answers at once with its state (asu v1 semantics)."""
    checked = normalise(request, rt.catalog, rt.settings, rt.refresh_on_miss)
    existing = rt.builds.lookup(checked.request.request_hash)
    if existing is not None:
        return _respond(BuildView(existing, rt.builds.queue_position(existing)))
    check_buildable(checked, rt.catalog)
    view = rt.builds.submit(checked.request, _client(request, user_agent))
    return _respond(view)


@router.api_route("/build/{request_hash}", methods=["GET", "HEAD"])
def build_status(
    request_hash: str, rt: Annotated[Runtime, Depends(runtime)]
) -> JSONResponse:
    """The state of a build; HEAD answers with the same headers, no body
    (the server leaves the body out, Content-Length stays that of GET)."""
    return _respond(rt.builds.view(request_hash))
