"""One MLflow store and artefact root per tenant, and stores that follow a moved workspace."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from supportops import Workspace
from supportops.ml import registry as registry_module
from supportops.ml.registry import Registry


def _store(ws: Workspace, tenant: str) -> Registry:
    return Registry.for_tenant(ws.path, tenant)


def test_each_tenant_has_its_own_store(workspace: Workspace) -> None:
    acme, beta = _store(workspace, "acme"), _store(workspace, "beta")
    acme.client.create_registered_model("acme.intents")
    assert [m.name for m in acme.client.search_registered_models()] == ["acme.intents"]
    assert beta.client.search_registered_models() == []  # `mlflow ui` on beta shows beta only
    assert acme.artifact_root == workspace.path.resolve() / "mlflow" / "acme" / "artifacts"
    # on both back-ends: a file per tenant, so `mlflow ui` on one file shows one tenant
    assert acme.tracking_uri == f"sqlite:///{workspace.path.resolve()}/mlflow/acme.db"
    assert (workspace.path / "mlflow" / "beta.db").exists()


def test_the_setting_overrides_the_store(workspace: Workspace, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    uri = f"sqlite:///{tmp_path / 'shared.db'}"
    monkeypatch.setenv("SUPPORTOPS_MLFLOW_TRACKING_URI", uri)
    assert _store(workspace, "acme").tracking_uri == uri


def test_a_moved_workspace_reads_and_writes_its_own_artefacts(tmp_path: Path) -> None:
    first = Workspace.init(tmp_path / "a" / "ws")
    reg = _store(first, "acme")
    exp = reg._experiment("acme.intents")
    run = reg.client.create_run(exp)
    source = tmp_path / "note.txt"
    source.write_text("artefact")
    reg.client.log_artifact(run.info.run_id, str(source))
    reg.client.create_registered_model("acme.intents")
    reg.client.create_model_version("acme.intents", f"{run.info.artifact_uri}/note.txt",
                                    run_id=run.info.run_id)
    first.close()
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    shutil.rmtree(tmp_path / "a")

    moved = Workspace.open(tmp_path / "b" / "ws")
    registry_module._RELOCATED.clear()  # as in a fresh process
    again = _store(moved, "acme")
    root = (tmp_path / "b" / "ws").resolve().as_uri()
    fetched = again.client.get_run(run.info.run_id)
    assert fetched.info.artifact_uri.startswith(root)
    assert str(again.client.get_model_version("acme.intents", "1").source).startswith(root)
    assert again.client.get_experiment(exp).artifact_location.startswith(root)
    local = again.local_path(fetched.info.artifact_uri) / "note.txt"
    assert local.read_text() == "artefact"
    again.client.log_artifact(run.info.run_id, str(source), "more")
    assert (local.parent / "more" / "note.txt").exists()
    assert not (tmp_path / "a").exists()  # nothing went back to the deleted original
    moved.close()
