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
    edited_after_signoff,
    hold_for_edit,
    reassign,
    refusal,
    refusal_reason,
    refuse,
    refused_message,
    system,
)

__all__ = [
    "ACTIONS", "REASSIGNABLE", "SYSTEM_MOVES", "Action", "allowed_actions", "apply", "edited_after_signoff",
    "hold_for_edit", "messages", "reassign", "refuse", "refusal", "refusal_reason", "refused_message", "system",
]
