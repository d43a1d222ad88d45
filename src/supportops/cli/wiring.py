"""Connects optional rooms to a workspace (e.g. privacy's protector) for CLI and API use."""

from __future__ import annotations

from supportops.privacy.service import enable as enable_privacy
from supportops.workspace import Workspace


def install(ws: Workspace) -> None:
    """Hook point: rooms that extend the workspace register themselves here."""
    enable_privacy(ws)  # also done by Workspace itself; kept explicit for the CLI and API
