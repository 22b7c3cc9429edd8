"""The errors a person may see, each with the HTTP status the API answers with.

Raised anywhere in the core; `api/` turns them into a JSON response in one place and
the CLI turns them into a message and exit code 2.
"""

from __future__ import annotations

import errno


class DictationError(Exception):
    """Base class: `message` is a sentence a person understands."""

    status: int = 500
    code: str = "error"

    def __init__(self, message: str, **detail: object) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class BadAudio(DictationError):
    """The file is not audio we can decode (text, image, truncated, empty)."""

    status = 415
    code = "not_audio"


class TooLarge(DictationError):
    status = 413
    code = "too_large"


class NotAuthenticated(DictationError):
    status = 401
    code = "not_authenticated"


class Forbidden(DictationError):
    status = 403
    code = "forbidden"


class NotFound(DictationError):
    status = 404
    code = "not_found"


class TransitionRefused(DictationError):
    """A workflow action that is not allowed from the current state or for this user."""

    status = 409
    code = "transition_refused"


class Conflict(DictationError):
    status = 409
    code = "conflict"


class StaleVersion(DictationError):
    """An edit based on an old version of a draft: nothing is overwritten."""

    status = 412
    code = "stale_version"


class PreconditionRequired(DictationError):
    status = 428
    code = "precondition_required"


class InvalidInput(DictationError):
    status = 422
    code = "invalid"


class ModelUnavailable(DictationError):
    """No transcription model could be found or loaded; the message says what to install."""

    status = 503
    code = "model_unavailable"


class GpuUnusable(ModelUnavailable):
    """CTranslate2 sees a GPU but cannot run on it (most often: CUDA libraries of another
    major version than it was built for). `auto` then runs on the CPU; `cuda` refuses."""

    code = "gpu_unusable"


class DecoderUnavailable(DictationError):
    """A recording needs a decoder library the server lacks; the message says what to install."""

    status = 503
    code = "decoder_unavailable"


class StorageFull(DictationError):
    """The disk that holds recordings is full: nothing partial was kept, and the same request
    (or the job's next attempt) works once space is freed."""

    status = 507
    code = "storage_full"


def is_disk_full(exc: BaseException) -> bool:
    """Whether an error is the disk (or the user's quota on it) running out of space."""
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


DISK_FULL_MESSAGE = ("The server has no disk space left to store this recording, so nothing was kept; "
                     "send it again once an administrator has freed space.")


class PublishError(DictationError):
    """A destination refused or failed a publication; `transient` says whether to retry."""

    status = 502
    code = "publish_failed"

    def __init__(self, message: str, transient: bool = False, **detail: object) -> None:
        super().__init__(message, **detail)
        self.transient = transient


class TooManyAttempts(DictationError):
    """Too many failed sign-ins: password guessing is slowed down."""

    status = 429
    code = "too_many_attempts"
