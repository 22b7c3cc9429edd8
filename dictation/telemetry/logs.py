"""Log lines: JSON objects (one a line) for log shippers, or plain text on a terminal; every
line carries the request id, memo and job of the work under way, and never a secret.

`configure_logging(settings)` is called once by each process's door (`dictation serve`,
`dictation worker`); tests call it with their own stream.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
from collections.abc import Sequence
from typing import TextIO

from dictation import context
from dictation.settings import Settings

_HANDLER_NAME = "dictation"

# Secrets that may reach a message through an exception text, a URL or a header dump.
_PATTERNS = [
    (re.compile(r"\bdd_[A-Za-z0-9_\-]{6,}"), "dd_***"),  # personal API tokens
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]{6,}"), r"\1 ***"),
    (re.compile(r"(://[^/\s:@]+:)[^@\s/]+@"), r"\1***@"),  # a password in a URL
    (re.compile(r"(?i)((?:password|passwd|secret|token|api[_-]?key)[\"']?\s*[=:]\s*[\"']?)[^\s\"',&}]+"),
     r"\1***"),
]


class Redactor:
    """Blanks this installation's own secrets and anything shaped like a credential."""

    def __init__(self, secrets: Sequence[str | None] = ()) -> None:
        # Short values would blank ordinary words; real secrets are long.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 8}, key=len, reverse=True)

    @classmethod
    def from_settings(cls, settings: Settings) -> Redactor:
        return cls([settings.secret_key, settings.smtp_password, settings.metrics_token])

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text


class ContextFilter(logging.Filter):
    """Stamps each record with the request, memo and job ids of the work under way."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, variable in (("request_id", context.request_id), ("memo_id", context.memo_id),
                               ("job_id", context.job_id)):
            if getattr(record, name, None) is None:
                setattr(record, name, variable.get())
        if record.job_id is None and record.name.startswith("huey"):  # type: ignore[attr-defined]
            # Huey's "Executing …" and "… executed in" lines come before and after our job
            # context: the task it names carries the job id as its argument.
            task = record.args[0] if isinstance(record.args, tuple) and record.args else None
            arguments = getattr(task, "args", None)
            if getattr(task, "name", "").endswith("run_job") and arguments:
                record.job_id = arguments[0]
        return True


class JsonFormatter(logging.Formatter):
    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": self.redact(record.getMessage()),
        }
        for name in ("request_id", "memo_id", "job_id"):
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["error"] = self.redact(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self, redact: Redactor) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        ids = " ".join(f"{name.split('_')[0]}={getattr(record, name)}" for name in ("request_id", "memo_id", "job_id")
                       if getattr(record, name, None) is not None)
        text = super().format(record)
        return self.redact(f"{text} [{ids}]" if ids else text)


def configure_logging(settings: Settings, stream: TextIO | None = None) -> logging.Handler:
    """Route every logger (uvicorn's and huey's too) through one handler on the root logger.

    Idempotent: calling it again replaces the handler it installed before.
    """
    stream = stream or sys.stderr
    fmt = settings.log_format
    if fmt == "auto":
        fmt = "text" if getattr(stream, "isatty", lambda: False)() else "json"
    redact = Redactor.from_settings(settings)
    handler = logging.StreamHandler(stream)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter(redact) if fmt == "json" else TextFormatter(redact))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "huey"):
        # Their own handlers would print a second, unstamped copy of each line.
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    return handler
