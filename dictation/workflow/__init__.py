"""The workflow: a memo's states, the transitions between them and who may make each (`machine`),
and the reasons for a refusal in each language (`messages`)."""

from dictation.workflow import messages
from dictation.workflow.machine import (
    ACTIONS,
    REASSIGNABLE,
    SYSTEM_MOVES,
    Action,
    allowed_actions,
    apply,
    reassign,
    refusal,
    refusal_reason,
    refused_message,
    system,
)

__all__ = [
    "ACTIONS", "REASSIGNABLE", "SYSTEM_MOVES", "Action", "allowed_actions", "apply", "messages", "reassign",
    "refusal", "refusal_reason", "refused_message", "system",
]
