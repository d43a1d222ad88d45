"""CLI commands of the analytics room (registered on the main app by ``register``)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this room's commands to the main app."""
    return None
