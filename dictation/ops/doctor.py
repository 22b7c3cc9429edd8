"""`dictation doctor`: every part the service needs, checked for real, each with a fix hint.

Each check returns a `Check`; one failing check does not stop the others, so an operator sees
everything that is wrong in one run.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from dictation.errors import GpuUnusable
from dictation.settings import Settings
from dictation.telemetry.logs import Redactor

# Below this the media store refuses the next long memo soon: say so before it happens.
MIN_FREE_BYTES = 1024**3


@dataclass(frozen=True)
class Check:
    name: str  # what was checked, as the output's first column
    ok: bool  # False makes `dictation doctor` exit non-zero
    detail: str  # what was found
    hint: str = ""  # what to do about a failure


def _redact_url(url: str) -> str:
    return Redactor()(url)


def check_database(settings: Settings) -> Check:
    from sqlalchemy import text

    from dictation import migrations
    from dictation.db import Database

    database = Database(settings)
    try:
        with database.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        current, head = migrations.current(database), migrations.head()
    finally:
        database.dispose()
    where = f"{database.engine.dialect.name} at {_redact_url(settings.sqlalchemy_url)}"
    if current is None:
        return Check("database", True, f"{where}, empty: `dictation serve` or `dictation migrate` creates the schema")
    if current == head:
        return Check("database", True, f"{where}, schema {head}")
    from alembic.script import ScriptDirectory

    try:
        ScriptDirectory.from_config(migrations.config()).get_revision(current)
    except Exception:  # noqa: BLE001 - alembic says "unknown revision" in several ways
        return Check("database", False, f"{where}: schema {current} is newer than this code knows ({head})",
                     "run the version of Dictation Desk that migrated it, or restore a backup made for this one.")
    return Check("database", True, f"{where}, schema {current}: upgraded to {head} at the next start")


def check_queue(settings: Settings) -> Check:
    from dictation.jobs import make_queue

    queue = make_queue(settings)
    pending = len(queue)  # touches the queue's storage: the SQLite file or Redis
    where = _redact_url(settings.queue_url) if settings.queue_url else "SQLite in the data dir"
    return Check("queue", True, f"{where}, {pending} message(s) pending")


def check_engine(settings: Settings) -> Check:
    from dictation.transcribe.device import cuda_device_count, resolve_compute_type, resolve_device

    if settings.engine == "openai-whisper":
        return Check("engine", True, "openai-whisper (fp32) on cpu")
    device = resolve_device(settings.device)
    compute = resolve_compute_type(device, settings.compute_type)
    return Check("engine", True, f"{settings.engine} ({compute}) on {device} "
                                 f"(DICTATION_DEVICE={settings.device}, {cuda_device_count()} CUDA GPU(s) visible)")


def check_decoder(settings: Settings) -> Check:
    import av

    codec = ".".join(map(str, av.library_versions["libavcodec"]))
    return Check("decoder", True, f"PyAV {av.__version__}, libavcodec {codec} (no system ffmpeg needed)")


# One AMR frame of type 15, "no data" (RFC 4867 storage format): a decoder that takes it and
# gives a frame of samples back is loaded and callable, not merely present on disk.
_AMR_NO_DATA = bytes([15 << 3 | 0x04])
AMR_PACKAGES = "libopencore-amrnb0 libopencore-amrwb0"


def check_amr(settings: Settings) -> Check:
    """Phones send AMR voice notes with pauses (DTX) that only opencore-amr decodes: without
    it such notes are refused at upload, so the operator hears of it here first."""
    from dictation.audio import amr
    from dictation.errors import DecoderUnavailable

    found, missing = [], []
    for codec, label in (("amr_nb", "AMR-NB"), ("amr_wb", "AMR-WB")):
        flavour = amr.FLAVOURS[codec]
        try:
            decoder = amr.AmrDecoder(codec)
        except DecoderUnavailable:
            missing.append(f"{label} ({flavour.library} not loadable)")
            continue
        try:
            samples = len(decoder.decode(_AMR_NO_DATA))
        finally:
            decoder.close()
        if samples != flavour.frame_samples:
            missing.append(f"{label} ({flavour.library} decoded {samples} samples, not {flavour.frame_samples})")
        else:
            found.append(f"{label} ({flavour.library})")
    if missing:
        return Check("amr decoder", False, f"{', '.join(missing)}: phones' AMR voice notes (3gp, amr) are refused",
                     f"apt install {AMR_PACKAGES} (or `make run`), then restart the service.")
    return Check("amr decoder", True, f"opencore-amr decodes {' and '.join(found)}, pauses (DTX) included")


def check_model(settings: Settings) -> Check:
    from dictation.transcribe.weights import resolve_faster_whisper, resolve_openai_whisper

    if settings.engine == "openai-whisper":
        where = resolve_openai_whisper(settings.model)
    else:
        where = resolve_faster_whisper(settings.model, settings.model_cache_dir)
    return Check("model", True, f"{settings.model} -> {where}")


def check_model_loads(settings: Settings) -> Check:
    from dictation.transcribe.device import gpu_unusable
    from dictation.transcribe.engines import load_engine
    from dictation.transcribe.options import TranscribeOptions

    started = time.monotonic()
    load_engine(TranscribeOptions.from_settings(settings))
    took = f"loaded in {time.monotonic() - started:.1f} s"
    reason = gpu_unusable()
    if reason is not None:  # `auto` runs on: memos get transcribed, ten times slower
        return Check("model check", False, f"{took}, but on the CPU: {reason}", _GPU_HINT)
    return Check("model check", True, took)


def check_media_store(settings: Settings) -> Check:
    root = settings.media_dir
    root.mkdir(parents=True, exist_ok=True)
    probe = root / f".doctor-{uuid.uuid4().hex}"
    with probe.open("wb") as handle:  # an fsync'd write proves more than os.access
        handle.write(b"dictation doctor")
        handle.flush()
        os.fsync(handle.fileno())
    probe.unlink()
    free = shutil.disk_usage(root).free
    detail = f"{root}, writable, {free / 1024**3:.1f} GB free"
    if free < MIN_FREE_BYTES:
        return Check("media store", False, detail,
                     f"free space under {root} (below {MIN_FREE_BYTES // 1024**3} GB new memos soon fail), "
                     "or set DICTATION_RETAIN_AUDIO_DAYS.")
    return Check("media store", True, detail)


def check_destinations(settings: Settings) -> Iterator[Check]:
    """Each destination is asked to look a post up: that needs the address and the credentials."""
    from sqlalchemy import inspect

    from dictation.db import Database
    from dictation.errors import DictationError
    from dictation.publish import destinations
    from dictation.publish.cms import Post, get_publisher

    database = Database(settings)
    try:
        if "destinations" not in inspect(database.engine).get_table_names():
            yield Check("destinations", True, "none yet (the database is empty)")
            return
        with database.session() as session:
            configs = [destinations.to_config(row, settings) for row in destinations.list_destinations(session)]
    finally:
        database.dispose()
    if not configs:
        yield Check("destinations", True, "none yet (the built-in blog is added at first publication)")
    probe = Post(draft_id=f"doctor-{uuid.uuid4().hex[:12]}", title="doctor", slug="dictation-doctor-probe",
                 body_markdown="")
    for config in configs:
        name = f"destination {config.name}"
        try:
            publisher = get_publisher(config, settings)
            try:
                publisher.find(probe)
            finally:
                publisher.close()  # its HTTP client's pooled connections, whatever the answer
            if config.kind == "webhook":
                _reach(config.url, settings)
        except DictationError as exc:
            yield Check(name, False, f"{config.kind} at {config.url or '-'}: {exc.message}",
                        f"check the address and the credentials (`dictation destination add {config.name} "
                        "--kind … --secret-stdin` replaces them), then run doctor again.")
        except Exception as exc:  # noqa: BLE001 - a network error of any kind is a failed check
            yield Check(name, False, f"{config.kind} at {config.url or '-'}: {type(exc).__name__}: {exc}",
                        "check that the address is right and the site is up.")
        else:
            yield Check(name, True, f"{config.kind} at {config.url or '(built in)'}: reachable, credentials accepted")


def _reach(url: str, settings: Settings) -> None:
    """Any answer will do; through the publishers' guarded client, so doctor reaches no address
    a publication may not (loopback, private, link-local), whatever the name resolves to now."""
    from dictation.publish.cms.http import make_client, request

    with make_client(settings) as client:
        request(client, "HEAD", url, what="The webhook address", ok=tuple(range(100, 600)))


def check_mail(settings: Settings) -> Check:
    import smtplib

    if not settings.smtp_host:
        return Check("mail", True, "off (no DICTATION_SMTP_HOST): nobody is e-mailed")
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as smtp:
            smtp.ehlo()
            if settings.smtp_starttls:
                smtp.starttls()
                smtp.ehlo()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password or "")
    except smtplib.SMTPAuthenticationError:
        return Check("mail", False, f"{where} refused the user {settings.smtp_user}",
                     "check DICTATION_SMTP_USER and DICTATION_SMTP_PASSWORD.")
    except (OSError, smtplib.SMTPException) as exc:
        hint = "check DICTATION_SMTP_HOST and DICTATION_SMTP_PORT, and that the server is up"
        if isinstance(exc, smtplib.SMTPNotSupportedError) or "STARTTLS" in str(exc):
            hint = "this server does not offer STARTTLS: set DICTATION_SMTP_STARTTLS=false or use its TLS port"
        return Check("mail", False, f"{where}: {type(exc).__name__}: {exc}", hint + ".")
    signed = f", signed in as {settings.smtp_user}" if settings.smtp_user else ""
    return Check("mail", True, f"{where} answers{signed}")


_HINTS = {
    "database": "check DICTATION_DATABASE_URL and that the database server is up.",
    "queue": "check DICTATION_QUEUE_URL and that Redis is up (or unset it for the SQLite queue).",
    "engine": "set DICTATION_DEVICE=auto or cpu, or install the NVIDIA driver and CUDA libraries.",
    "model": "set DICTATION_MODEL to an installed model; see README, Configuration.",
    "model check": "set DICTATION_MODEL to an installed model; see README, Configuration.",
    "media store": "make DICTATION_DATA_DIR (its media/ folder) writable by this user.",
    "amr decoder": f"apt install {AMR_PACKAGES} (or `make run`), then restart the service.",
}


_GPU_HINT = "install the CUDA libraries named above, or set DICTATION_DEVICE=cpu to use the CPU on purpose."


def _safely(name: str, check: Callable[[Settings], Check], settings: Settings) -> Check:
    try:
        return check(settings)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a line, never a traceback
        message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        return Check(name, False, Redactor.from_settings(settings)(" ".join(str(message).split())[:400]),
                     _GPU_HINT if isinstance(exc, GpuUnusable) else _HINTS.get(name, ""))


def run_checks(settings: Settings, skip_model: bool = False) -> Iterator[Check]:
    yield Check("data dir", True, str(settings.data_dir))
    for name, check in (("database", check_database), ("queue", check_queue), ("engine", check_engine),
                        ("decoder", check_decoder), ("amr decoder", check_amr), ("model", check_model),
                        ("media store", check_media_store), ("mail", check_mail)):
        result = _safely(name, check, settings)
        yield result
        if name == "model" and result.ok and not skip_model:
            yield _safely("model check", check_model_loads, settings)
    try:
        yield from check_destinations(settings)
    except Exception as exc:  # noqa: BLE001 - e.g. no database: the database line said why
        yield Check("destinations", False, f"not checked: {type(exc).__name__}", _HINTS["database"])
