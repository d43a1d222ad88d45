"""What answers without a key: health and version."""

from __future__ import annotations

from fastapi import APIRouter

from supportops.version import __version__

router = APIRouter(prefix="/v1", tags=["meta"])


@router.get("/health", operation_id="health")
def health() -> dict[str, str]:
    """Liveness: the server answers."""
    return {"status": "ok"}


@router.get("/version", operation_id="version")
def version() -> dict[str, str]:
    """The supportops version serving this API."""
    return {"version": __version__, "api": "v1"}
