"""Every knob, declared once, with its help text and its DICTATION_* environment variable.

`tests/test_settings.py` checks that each field here is documented in README.md.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dictation.errors import DictationError

PLACEHOLDER_SECRET = "change-me"


MIN_SECRET_KEY_BITS = 256
MAKE_A_KEY = 'Make one with: python -c "import secrets; print(secrets.token_urlsafe(48))"'


def secret_key_bits(key: str) -> int:
    """A generous estimate of a key's randomness: its length times the bits of the smallest
    usual alphabet its characters fit in (hex, base64url, printable). A key of few distinct
    characters counts as the bits of those few, so length alone never passes."""
    if not key:
        return 0
    # A key that repeats itself ("secretsecret…") is only as strong as one period of it.
    # Only a period that comes round at least twice counts ("abcXa" does not repeat itself).
    period = next((p for p in range(1, len(key) // 2 + 1) if (key[:p] * (len(key) // p + 1))[: len(key)] == key),
                  len(key))
    key = key[:period]
    if all(c in "0123456789abcdef" for c in key.lower()):
        per_char = 4.0
    elif all(c.isascii() and (c.isalnum() or c in "-_=+/") for c in key):
        per_char = 6.0
    else:
        per_char = 6.5
    distinct = len(set(key))
    if distinct < 8:  # random hex of any useful length has them all
        per_char = min(per_char, math.log2(max(distinct, 1)))
    return int(len(key) * per_char)


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "dictation-desk"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DICTATION_", env_file=".env", extra="ignore")

    # --- deployment -------------------------------------------------------------------
    environment: Literal["development", "production"] = Field(
        "development",
        description="`production` refuses the placeholder secret key and insecure cookies.",
    )
    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Where the database, media files, queue and assembled models live.",
    )
    secret_key: str = Field(
        PLACEHOLDER_SECRET,
        description="Signs session cookies and encrypts CMS secrets. Required outside development.",
    )
    public_url: str = Field(
        "http://127.0.0.1:8000",
        description="The address people use to reach the app; used in links, e-mails and the blog feed.",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db. Default: SQLite in the data dir.",
    )
    queue_url: str | None = Field(
        None,
        description="redis://host:port/db for a Redis queue shared by many workers. Default: SQLite in the data dir.",
    )
    models_dir: Path | None = Field(
        None, description="Where models assembled from PyPI parts are kept. Default: models/ in the data dir."
    )
    max_upload_mb: int = Field(500, description="Largest memo upload accepted, in megabytes (413 above).")
    upload_quota_mb: int = Field(
        2000, description="Unfinished resumable uploads one person may hold at once, in megabytes (413 above)."
    )
    upload_expiry_hours: float = Field(
        24.0,
        description="Unfinished resumable uploads untouched this long are deleted by the worker's housekeeping.",
    )
    max_body_kb: int = Field(
        1024,
        description="Largest JSON or form request body, in kilobytes (413 above); memo uploads have their own limit.",
    )
    max_image_mb: int = Field(10, description="Largest featured image accepted for a post, in megabytes (413 above).")
    max_memo_minutes: float = Field(
        180,
        description="Longest memo accepted, in minutes: refused at upload from its header (413), "
        "and by the worker on its decoded length.",
    )
    workers: int = Field(
        1, description="Worker processes `dictation serve` supervises beside the API, restarted if they die (0 = none)."
    )
    web_processes: int = Field(
        1, ge=1, le=64,
        description="Processes of `dictation serve` answering HTTP (one Python process uses about one core; "
        "a busy server on several cores wants one per core). The workers above are separate either way.",
    )

    # --- transcription ----------------------------------------------------------------
    engine: Literal["faster-whisper", "openai-whisper"] = Field(
        "faster-whisper", description="Transcription engine."
    )
    model: str = Field(
        "base",
        description="Model name (base, tiny.en, ...) or a path to a model directory or .pt file.",
    )
    language: str = Field("auto", description="Memo language: auto, en or fr.")
    beam_size: int = Field(
        5, description="Beam width. Greedy decoding (1) was seen to swallow French speech here."
    )
    compute_type: str = Field(
        "auto", description="CTranslate2 compute type for faster-whisper; auto: float16 on a GPU, int8 on the CPU."
    )
    cpu_threads: int = Field(
        0, description="Threads per transcription (0 = all cores). Workers scale best as processes with 1."
    )
    vad: bool = Field(True, description="Skip silence with voice activity detection.")
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto",
        description="Where faster-whisper runs: auto (a CUDA GPU when one is visible, else the CPU), cpu or cuda.",
    )
    glossary: str = Field(
        "",
        description="Comma-separated names and jargon given to the model as an initial prompt.",
    )

    # --- review desk ------------------------------------------------------------------
    rewind_seconds: float = Field(
        2.0, description="How far the editor's player rewinds when playback resumes."
    )
    revision_burst_minutes: float = Field(
        5.0,
        description="Saves by one person this many minutes or less after their last revision, with nobody "
        "else's save or a workflow step between, update that revision instead of adding one (0 = every save "
        "is a revision).",
        ge=0,
    )
    session_max_age_hours: int = Field(24 * 14, description="How long a browser sign-in lasts.")
    trusted_proxies: str = Field(
        "",
        description="Comma-separated addresses or networks of your reverse proxies; "
        "only their X-Forwarded-For is believed.",
    )

    # --- publishing and notifications -------------------------------------------------
    blog_title: str = Field("Company blog", description="Title of the built-in blog.")
    publish_timeout_s: float = Field(20.0, description="Timeout of one request to a CMS.")
    allow_private_destinations: bool = Field(
        False,
        description="Let destinations live on loopback, link-local or private addresses (an intranet WordPress).",
    )
    publish_max_attempts: int = Field(5, description="Attempts of a publication before it fails.")
    publish_backoff_s: float = Field(
        2.0, description="First wait before retrying a CMS; doubles each time, with random jitter."
    )
    smtp_host: str | None = Field(None, description="SMTP server for e-mail notifications (none = off).")
    smtp_port: int = Field(587, description="SMTP port.")
    smtp_user: str | None = Field(None, description="SMTP user name.")
    smtp_password: str | None = Field(None, description="SMTP password (never logged).")
    smtp_starttls: bool = Field(True, description="Upgrade the SMTP connection with STARTTLS.")
    smtp_from: str = Field("dictation-desk@localhost", description="Sender address of notifications.")

    # --- memos by e-mail (`dictation mail-in`) ------------------------------------------
    mail_in_host: str = Field("127.0.0.1", description="Address the mail-in SMTP receiver listens on.")
    mail_in_port: int = Field(2525, description="Port the mail-in SMTP receiver listens on.")
    mail_in_serve: bool = Field(
        False, description="Run mail-in (SMTP receiver, and IMAP polling when set) inside `dictation serve`."
    )
    mail_in_address: str | None = Field(
        None,
        description="The address memos are mailed to; secret addresses add +<secret>. Default: memo@ the public host.",
    )
    mail_in_secret_only: bool = Field(
        False, description="Accept mail only at a user's secret address, never on the sender's address alone."
    )
    mail_in_max_mb: int = Field(100, description="Largest e-mail accepted, in megabytes (attachments included).")
    imap_url: str | None = Field(
        None, description="imaps://user:password@host/INBOX: fetch memos from this mailbox (password never logged)."
    )
    imap_poll_s: float = Field(60.0, description="Seconds between two looks at the IMAP mailbox.")

    # --- operations -------------------------------------------------------------------
    log_format: Literal["auto", "text", "json"] = Field(
        "auto", description="Log lines: json (one object a line), text, or auto (text on a terminal, else json)."
    )
    log_level: str = Field("INFO", description="Lowest level logged: DEBUG, INFO, WARNING or ERROR.")
    metrics_token: str | None = Field(
        None, description="Bearer token that unlocks /metrics on the app (none and no port = no metrics)."
    )
    metrics_port: int | None = Field(
        None, description="Serve Prometheus metrics on this port of each server and worker process instead."
    )
    retain_audio_days: int | None = Field(
        None, description="Delete a memo's original recording this many days after publication or archiving."
    )
    retain_playback_days: int | None = Field(
        None, description="Likewise for the playback copy the editor plays (none = kept)."
    )
    retain_transcript_days: int | None = Field(
        None, description="Likewise for the timed transcript (the draft always stays; none = kept)."
    )

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        if self.environment != "development" and self.secret_key == PLACEHOLDER_SECRET:
            raise ValueError(
                "DICTATION_SECRET_KEY is still the placeholder; set a long random value "
                "before running in production. " + MAKE_A_KEY
            )
        if self.environment == "production" and secret_key_bits(self.secret_key) < MIN_SECRET_KEY_BITS:
            # Anyone who can guess the key signs their own session cookies: as anyone.
            raise ValueError(
                f"DICTATION_SECRET_KEY is too weak (about {secret_key_bits(self.secret_key)} bits; "
                f"production needs {MIN_SECRET_KEY_BITS // 8} random bytes, {MIN_SECRET_KEY_BITS} bits). "
                + MAKE_A_KEY
            )
        return self

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'dictation.sqlite3'}"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @property
    def model_cache_dir(self) -> Path:
        return self.models_dir or self.data_dir / "models"


def local_secret_key(data_dir: Path) -> str:
    """A random key kept in the data dir (mode 0600), made on first use."""
    import os
    import secrets

    path = data_dir / "secret.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


class SettingsInvalid(DictationError):
    """The environment (or .env) holds a setting that does not validate; the message names
    each problem in a sentence and never repeats a value, since the values may be secrets."""

    code = "settings_invalid"


def describe_invalid(exc: ValidationError) -> str:
    """One line per error, without the input: pydantic's own text quotes the settings it was
    given (an IMAP URL with its password, the SMTP password) in `input_value`."""
    lines = []
    for error in exc.errors(include_input=False, include_url=False, include_context=False):
        message = error["msg"].removeprefix("Value error, ")
        names = [str(part) for part in error["loc"]]
        lines.append(f"DICTATION_{names[0].upper()}{''.join(f'.{n}' for n in names[1:])}: {message}"
                     if names else message)
    return "The settings are invalid:\n  " + "\n  ".join(lines)


def load_settings() -> Settings:
    """The settings from the environment, or SettingsInvalid with a message safe to print."""
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsInvalid(describe_invalid(exc)) from None


@functools.lru_cache
def get_settings() -> Settings:
    settings = load_settings()
    if settings.secret_key == PLACEHOLDER_SECRET:
        # Development with no key set: a known placeholder would sign cookies and "encrypt" CMS
        # secrets with a key anyone can read here, so use one of this installation's own.
        settings = settings.model_copy(update={"secret_key": local_secret_key(settings.data_dir)})
    return settings
