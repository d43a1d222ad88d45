"""Docs checked by tests: every setting documented, the public API as promised."""

from __future__ import annotations

from pathlib import Path

import supportops
from supportops.settings import SETTINGS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_setting_is_documented() -> None:
    missing = [s.env for s in SETTINGS if f"`{s.env}`" not in README]
    assert not missing


def test_readme_has_the_two_commands() -> None:
    assert "make demo" in README and "make test" in README


def test_exported_members() -> None:
    assert set(supportops.__all__) >= {"Workspace", "Tenant", "SupportopsError", "NotFound",
                                       "PermissionDenied", "ValidationFailed", "IngestError"}
    for name in supportops.__all__:
        assert getattr(supportops, name).__module__.startswith("supportops")
