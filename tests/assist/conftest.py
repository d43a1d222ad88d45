"""The assistant's tests share one folder of encoder files (the int8 ONNX export takes
seconds to build; every workspace would otherwise build its own)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests.privacy.conftest import agent, ingested, pii_data, scan  # noqa: F401 - shared

ENCODERS = Path(tempfile.gettempdir()) / "supportops-test-encoders"


@pytest.fixture(autouse=True)
def shared_encoder_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPPORTOPS_ENCODER_CACHE", str(ENCODERS))
    monkeypatch.delenv("SUPPORTOPS_LLM_BASE_URL", raising=False)
