"""Datasets (snapshots) and models: list, show, promote, rollback, compare."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from supportops.api.deps import allow
from supportops.api.errors import ERRORS
from supportops.api.schemas import DatasetIn, Envelope, PromoteIn
from supportops.workspace import Tenant

router = APIRouter(prefix="/v1", responses=ERRORS)
Datasets = Annotated[Tenant, Depends(allow("datasets", "admin", "ml_engineer"))]
Models = Annotated[Tenant, Depends(allow("models", "admin", "ml_engineer"))]


@router.get("/datasets", operation_id="list_datasets", tags=["datasets"],
            response_model=Envelope)
def list_datasets(tenant: Datasets) -> dict[str, Any]:
    """Dataset snapshots with digest, log position and exclusions."""
    data = [s.as_dict() for s in tenant.datasets.list()]
    return {"data": data, "count": len(data)}


@router.post("/datasets", operation_id="create_dataset", tags=["datasets"], status_code=201)
def create_dataset(tenant: Datasets, body: DatasetIn) -> dict[str, Any]:
    """Snapshot the log now (opted-out and erased subjects excluded)."""
    result: dict[str, Any] = tenant.datasets.create(body.name, body.require).as_dict()
    return result


@router.get("/datasets/{snapshot_id}", operation_id="get_dataset", tags=["datasets"])
def get_dataset(tenant: Datasets, snapshot_id: str) -> dict[str, Any]:
    """One snapshot: digest, log position, exclusions."""
    result: dict[str, Any] = tenant.datasets.get(snapshot_id).as_dict()
    return result


@router.get("/models", operation_id="list_models", tags=["models"], response_model=Envelope)
def list_models(tenant: Models, name: Annotated[str | None, Query(max_length=200)] = None
                ) -> dict[str, Any]:
    """Model versions with aliases, metrics, snapshot and erasure flags."""
    data = tenant.triage.versions(name)
    return {"data": data, "count": len(data)}


@router.get("/models/{name}/compare", operation_id="compare_models", tags=["models"])
def compare(tenant: Models, name: str, a: Annotated[str, Query(max_length=64)],
            b: Annotated[str, Query(max_length=64)]) -> dict[str, Any]:
    """Two versions side by side, with b - a for each shared metric."""
    return tenant.triage.compare(name, a, b)


@router.get("/models/{name}/significance", operation_id="model_significance",
            tags=["models"])
def significance(
    tenant: Models, name: str,
    challenger: Annotated[str | None, Query(min_length=1, max_length=64, description=(
        "Version to compare with the champion [default: the challenger]."))] = None,
) -> dict[str, Any]:
    """Champion against a challenger on feedback-labelled tickets neither trained on: both
    accuracies and the exact McNemar test (the test that gates promotion)."""
    result: dict[str, Any] = tenant.monitor.compare(name, challenger)
    return result


@router.get("/models/{name}/versions/{version}", operation_id="get_model_version",
            tags=["models"])
def get_version(tenant: Models, name: str, version: str) -> dict[str, Any]:
    """One version: metrics, dataset, aliases, lineage flag."""
    return tenant.triage.version(name, version)


@router.post("/models/{name}/promote", operation_id="promote_model", tags=["models"])
def promote(tenant: Models, name: str, body: PromoteIn) -> dict[str, Any]:
    """Point an alias at a version (audited); serving switches at once. Over an existing
    champion only when the version is significantly better on feedback-labelled tickets
    (exact McNemar, p < 0.05) unless ``force``; a version that holds erased data never."""
    return tenant.triage.promote(name, body.version, alias=body.alias, force=body.force)


@router.post("/models/{name}/rollback", operation_id="rollback_model", tags=["models"])
def rollback(tenant: Models, name: str) -> dict[str, Any]:
    """Make the previous champion champion again (audited)."""
    return tenant.triage.rollback(name)
