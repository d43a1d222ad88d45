"""The composition root: what the rooms provide, joined in one object by explicit imports.

Each room declares what it provides as plain values (event types, erasure hooks, projectors)
and registers nothing; this module imports those values by name, so a fresh
``import supportops`` knows every event type and every process the same ones. ``Workspace``
builds one :class:`Composition` per workspace (:func:`compose`) and opens its database with
it; appends, ingestion, replays, reads that decrypt, erasure and the assistant's index take
the piece they need from the database handle or connection they are given (see
:mod:`supportops.events.wiring`).

Kept light: ``supportops init`` imports it, so no room's heavy library loads here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from supportops.assist import erasure as assist_erasure
from supportops.assist import feedback as assist_feedback
from supportops.assist import state as assist_state
from supportops.datasets import erasure as datasets_erasure
from supportops.events.catalogue import CORE_TYPES, Catalogue
from supportops.events.wiring import CipherFactory, Projector
from supportops.governance.context import Context
from supportops.ml import erasure as ml_erasure
from supportops.monitor import erasure as monitor_erasure
from supportops.monitor import event_types as monitor_types
from supportops.privacy import optout
from supportops.privacy.availability import content_cipher
from supportops.privacy.erasure import ErasureHook
from supportops.privacy.keys import Keyring, provider_for

#: Every event type of every room: the same in every process.
CATALOGUE = Catalogue.of(CORE_TYPES, optout.EVENT_TYPES, monitor_types.EVENT_TYPES,
                         assist_feedback.EVENT_TYPES)
#: Derived indexes of higher rooms, updated in each append's transaction (tickets come first,
#: always: ``projection.project_all``).
PROJECTORS: Mapping[str, Projector] = MappingProxyType({**assist_state.PROJECTORS})
#: Derived data each room purges when a subject is erased, in this order.
ERASURE_HOOKS: Mapping[str, ErasureHook] = MappingProxyType({
    **assist_erasure.ERASURE_HOOKS, **datasets_erasure.ERASURE_HOOKS,
    **ml_erasure.ERASURE_HOOKS, **monitor_erasure.ERASURE_HOOKS})


@dataclass(frozen=True)
class Composition:
    """What the rooms provide to one workspace (its database carries it as its wiring)."""

    #: Event types with their payload models, ticket flag and field classes.
    catalogue: Catalogue
    #: Makes the content cipher for a context (``None``: content stored as it is).
    cipher: CipherFactory | None
    projectors: Mapping[str, Projector]
    erasure_hooks: Mapping[str, ErasureHook]
    #: The assistant's index: tenant keyring and encoder folder.
    index: assist_state.IndexEnv | None


def compose(root: Path, config: dict[str, Any], encoder_dir: Path) -> Composition:
    """The composition of the workspace at ``root``: content sealed under its keys, the
    assistant's index keyed under each tenant's key and embedding with ``encoder_dir``."""

    def keyring(ctx: Context) -> Keyring:
        return Keyring(provider_for(root, config), ctx)

    return Composition(catalogue=CATALOGUE, cipher=content_cipher(root, config, CATALOGUE),
                       projectors=PROJECTORS, erasure_hooks=ERASURE_HOOKS,
                       index=assist_state.IndexEnv(keyring, encoder_dir))
