"""Two registered versions of a model side by side (``GET /v1/models/{name}/compare``)."""

from __future__ import annotations

from typing import Any

from supportops.errors import NotFound


def find_version(versions: list[dict[str, Any]], name: str, version: str
                 ) -> dict[str, Any]:
    """The version ``version`` of model ``name`` among ``versions``."""
    for v in versions:
        if v["name"] == name and str(v["version"]) == str(version):
            return v
    raise NotFound(f"Model {name!r} has no version {version!r}.")


def compare_versions(versions: list[dict[str, Any]], name: str, a: str, b: str
                     ) -> dict[str, Any]:
    """Each version's metrics, snapshot and aliases, and ``b - a`` for shared numeric
    metrics: which one to promote stays the caller's decision."""
    first, second = find_version(versions, name, a), find_version(versions, name, b)
    shared = sorted(set(first["metrics"]) & set(second["metrics"]))
    delta = {k: second["metrics"][k] - first["metrics"][k] for k in shared
             if isinstance(first["metrics"][k], int | float)
             and isinstance(second["metrics"][k], int | float)}
    keep = ("version", "aliases", "metrics", "snapshot", "contains_erased_data")
    return {"model": name, "a": {k: first.get(k) for k in keep},
            "b": {k: second.get(k) for k in keep}, "delta": delta}
