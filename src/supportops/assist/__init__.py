"""The answer assistant: hybrid retrieval over the knowledge base and resolved tickets,
drafted answers with citations, abstention and hand-off (see ``service.AssistService``).

Light to import (the workspace wires ``state`` and ``erasure`` in); the service, which needs
NumPy and the encoder, loads on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from supportops.assist.service import AssistService

__all__ = ["AssistService"]


def __getattr__(name: str) -> Any:
    if name == "AssistService":
        from supportops.assist.service import AssistService

        return AssistService
    raise AttributeError(f"module 'supportops.assist' has no attribute {name!r}")
