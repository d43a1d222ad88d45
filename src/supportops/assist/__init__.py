"""The answer assistant: hybrid retrieval over the knowledge base and resolved tickets,
drafted answers with citations, abstention and hand-off (see ``service.AssistService``)."""

from supportops.assist.service import AssistService

__all__ = ["AssistService"]
