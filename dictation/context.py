"""What a log line and a new job inherit from the work under way: the request id of the HTTP
request, the memo and the job a worker is running. Context variables, so each request (task or
thread) and each job sees its own; a leaf module, so `models` can default `Job.request_id` to it."""

from __future__ import annotations

import contextlib
import contextvars
import re
import uuid
from collections.abc import Iterator
from typing import Any

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("dictation_request_id", default=None)
memo_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("dictation_memo_id", default=None)
job_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("dictation_job_id", default=None)

# An id from outside ends up in every log line: accept only a short, plain token.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def clean_request_id(value: str | None) -> str:
    """The caller's X-Request-ID when it is a plain short token, else a new one."""
    if value and _REQUEST_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    """The request id of the work under way (the default of `Job.request_id`)."""
    return request_id.get()


@contextlib.contextmanager
def bound(**values: str | int | None) -> Iterator[None]:
    """Set request_id / memo_id / job_id for the duration of the block."""
    variables: dict[str, contextvars.ContextVar[Any]] = {"request_id": request_id, "memo_id": memo_id,
                                                         "job_id": job_id}
    tokens = [(variables[name], variables[name].set(value)) for name, value in values.items()]
    try:
        yield
    finally:
        for variable, token in reversed(tokens):
            variable.reset(token)
