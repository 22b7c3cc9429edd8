"""What every process of the app does once at start-up, whichever door it opens (API server,
worker, CLI command, test): plug the built-in job kinds into the runner."""

from __future__ import annotations

from dictation.jobs import register_kind
from dictation.memos import additions, processing
from dictation.ops import retention
from dictation.publish import job as publish_job
from dictation.publish import service as publish_service


def register_job_kinds() -> None:
    """Idempotent: registering a kind again replaces it with the same object."""
    register_kind(processing.PROCESS, processing.KIND)
    register_kind(additions.APPEND, additions.KIND)
    register_kind(publish_service.PUBLISH, publish_job.KIND)
    register_kind(retention.RETENTION, retention.KIND)
