"""The tenant handle stays a thin set of area facades: one spelling per verb, the front door
module short, and the old flat methods gone."""

from __future__ import annotations

from pathlib import Path

from supportops import Tenant
from supportops.tenant.areas import Audit, Datasets, Events, Lineage, Principals
from supportops.tenant.privacy import PrivacyArea
from supportops.tenant.triage import Triage

SRC = Path(__file__).resolve().parents[1] / "src" / "supportops"
#: The handle's whole public surface: who it is, where, its two documented entry points
#: (``ingest``, ``tickets``), its areas, and the hooks areas share.
SURFACE = {"id", "ctx", "db", "is_owner", "workspace", "path", "artifacts", "ingest", "tickets",
           "events", "principals", "datasets", "triage", "monitor", "privacy", "assist",
           "audit", "lineage", "analytics", "webhooks", "servers", "privacy_room",
           "prediction_recorder", "close"}
#: Spellings of the flat handle, each replaced by an area's verb.
REMOVED = ("train_triage", "triage_models", "triage_server", "triage_feedback", "triage_batch",
           "announce_triage", "evaluate_triage", "compare_models", "model_version",
           "events_tail", "events_count", "rebuild", "create_principal", "set_principal_role",
           "disable_principal", "rotate_key", "ingest_records", "subject_token", "audit_entries",
           "lineage_of", "create_dataset", "dataset", "rebuild_flagged_datasets", "erase",
           "draft_answer", "check_monitor", "run_monitor", "export_subject")


def test_the_handle_is_areas_and_nothing_else() -> None:
    public = {name for name in dir(Tenant) if not name.startswith("_")}
    assert public <= SURFACE
    assert not [name for name in REMOVED if hasattr(Tenant, name)]


def test_the_front_door_is_short() -> None:
    assert len((SRC / "workspace.py").read_text().splitlines()) < 400


def test_areas_name_their_verbs_as_the_cli_does(tenant: Tenant) -> None:
    assert isinstance(tenant.events, Events) and isinstance(tenant.principals, Principals)
    assert isinstance(tenant.datasets, Datasets) and isinstance(tenant.triage, Triage)
    assert isinstance(tenant.audit, Audit) and isinstance(tenant.lineage, Lineage)
    assert isinstance(tenant.privacy, PrivacyArea)
    for area, verbs in [(Principals, ("create", "list", "set_role", "disable", "rotate_key")),
                        (Datasets, ("create", "list", "get", "rebuild_flagged")),
                        (Triage, ("train", "predict", "feedback", "evaluate", "versions",
                                  "version", "compare", "promote", "rollback",
                                  "retrain_flagged")),
                        (Events, ("tail", "count", "rebuild"))]:
        assert all(callable(getattr(area, verb)) for verb in verbs), area


def test_one_promote_and_it_is_gated(tenant: Tenant) -> None:
    """The monitor room's promote is gone; the triage room's is the one, and its gate comes
    from the monitor room through the handle."""
    from supportops.monitor.service import Monitor

    assert not hasattr(Monitor, "promote")
    assert tenant.triage.service.gate is not None


def test_a_lower_roles_handle_reaches_no_workspace_through_its_areas(tenant: Tenant) -> None:
    """The workspace opens every tenant as owner: a principal's handle keeps it private, and
    no area it hands out exposes it as a public attribute (the principals area used to)."""
    from supportops import Workspace

    tenant.principals.create("ann", "agent", kind="person")
    ann = tenant.workspace.tenant("acme", principal="ann")
    areas = [ann.events, ann.principals, ann.datasets, ann.audit, ann.lineage, ann.privacy,
             ann.triage]
    exposed = [f"{type(area).__name__}.{name}" for area in areas for name in dir(area)
               if not name.startswith("_")
               and isinstance(getattr(type(area), name, None) or vars(area).get(name), Workspace)]
    assert exposed == []
