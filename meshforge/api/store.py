"""``/store/{hash}/{file}``: built images and their files."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.responses import FileResponse
from sqlalchemy import update

from meshforge.api.deps import runtime
from meshforge.db.models import StoredFile
from meshforge.runtime import Runtime

router = APIRouter(tags=["store"])


def _count(rt: Runtime, request_hash: str, name: str) -> None:
    with rt.db.session() as session:
        session.execute(
            update(StoredFile)
            .where(StoredFile.request_hash == request_hash, StoredFile.name == name)
            .values(downloads=StoredFile.downloads + 1)
        )


@router.get("/store/{request_hash}/{name}")
def download(
    request_hash: str, name: str, rt: Annotated[Runtime, Depends(runtime)]
) -> FileResponse:
    """A stored file; its exact size is in Content-Length."""
    path, _ = rt.store.open(request_hash, name)
    _count(rt, request_hash, name)
    return FileResponse(path, media_type="application/octet-stream", filename=name)


@router.head("/store/{request_hash}/{name}", include_in_schema=False)
def download_head(
    request_hash: str, name: str, rt: Annotated[Runtime, Depends(runtime)]
) -> Response:
    _, size = rt.store.open(request_hash, name)
    return Response(
        headers={"Content-Length": str(size), "Accept-Ranges": "bytes"},
        media_type="application/octet-stream",
    )
