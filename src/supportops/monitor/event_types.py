"""The monitoring room's event types: agents' verdicts on predictions (``triage.feedback``)
and alarms (``monitor.alarm``), declared as values the composition root joins into the
workspace's catalogue.

Kept apart from the code that appends them so that composing a workspace stays light (the
feedback code imports dataset snapshots, and with them PyArrow).
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from supportops.events.catalogue import EventType
from supportops.events.classification import LABEL, Code

FEEDBACK = "triage.feedback"
ALARM = "monitor.alarm"
ACTIONS = ("accept", "correct")
KINDS = ("input_drift", "label_drift", "accuracy_drop")
Target = Literal["category", "group", "priority", "status", "channel", "assignee", "sentiment"]
#: The labels a verdict may decide (those a dataset snapshot derives).
TARGETS: tuple[str, ...] = get_args(Target)


class TriageFeedback(BaseModel):
    """Payload of ``triage.feedback``. The model is named ``model_name`` (not ``model``): a
    ``model`` key marks a model's own write-back, and this verdict is a person's."""

    model_config = ConfigDict(extra="forbid")
    model_name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    target: Target
    predicted: str | None = None
    final: str = Field(min_length=1)
    action: Literal["accept", "correct"]


class Alarm(BaseModel):
    """Payload of ``monitor.alarm``."""

    model_config = ConfigDict(extra="forbid")
    model_name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    kind: Literal["input_drift", "label_drift", "accuracy_drop"]
    score: float
    threshold: float
    n: int = Field(ge=0)
    last_record: str = Field(min_length=1)


FEEDBACK_TYPE = EventType(FEEDBACK, TriageFeedback, ticket=True, classes={
    "model_name": LABEL, "version": LABEL, "target": Code(vocabulary=frozenset(TARGETS)),
    "predicted": LABEL, "final": LABEL, "action": Code(vocabulary=frozenset(ACTIONS))})
ALARM_TYPE = EventType(ALARM, Alarm, classes={
    "model_name": LABEL, "version": LABEL, "kind": Code(vocabulary=frozenset(KINDS)),
    "last_record": LABEL})
#: What this room adds to the catalogue.
EVENT_TYPES: tuple[EventType, ...] = (FEEDBACK_TYPE, ALARM_TYPE)
