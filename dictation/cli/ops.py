"""Operating commands: doctor, backup, restore, retention; and the logging and metrics every
long-running command (serve, worker) starts with."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def start_observability(worker_processes: bool, database_gauges: bool = False) -> None:
    """Logs in the configured format; metrics on their own port when DICTATION_METRICS_PORT is set.

    `worker_processes`: this process forks workers, which must count in shared files.
    `database_gauges`: its port also shows memos by state and the queue (the server's does;
    workers' would repeat the same figures).
    """
    from dictation.settings import get_settings

    settings = get_settings()
    from dictation.telemetry.logs import configure_logging

    configure_logging(settings)
    if settings.metrics_port is None and not settings.metrics_token:
        return
    from dictation.telemetry import metrics

    if worker_processes:
        metrics.enable_multiprocess()
    if settings.metrics_port is not None:
        from dictation.db import Database

        metrics.serve_on_port(settings.metrics_port, Database(settings) if database_gauges else None)


def book_retention(database) -> None:
    """Workers keep the daily retention job booked when a DICTATION_RETAIN_*_DAYS is set."""
    from dictation.ops.retention import schedule_daily

    settings = database.settings
    if any(days is not None for days in (settings.retain_audio_days, settings.retain_playback_days,
                                         settings.retain_transcript_days)):
        with database.session() as session:
            schedule_daily(session)


def cmd_doctor(args: argparse.Namespace) -> int:
    from dictation.ops.doctor import run_checks
    from dictation.settings import get_settings

    failed = 0
    for check in run_checks(get_settings(), skip_model=args.skip_model):
        label = (check.name + ":").ljust(11)
        print(f"{label} {check.detail}" if check.ok else f"{label} FAILED: {check.detail}")
        if not check.ok:
            failed += 1
            if check.hint:
                print(f"{'':<12}fix: {check.hint}")
    if failed:
        sys.stderr.write(f"\ndictation doctor: {failed} check(s) failed.\n")
    return 1 if failed else 0


def cmd_backup(args: argparse.Namespace) -> int:
    from dictation.ops.backup import backup
    from dictation.settings import get_settings

    manifest = backup(get_settings(), Path(args.dir))
    print(f"backup written to {args.dir}: database ({manifest['database']['dialect']}, "
          f"revision {manifest['database']['revision']}), {len(manifest['media'])} media files")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from dictation.ops.backup import restore
    from dictation.settings import get_settings

    manifest = restore(get_settings(), Path(args.dir))
    print(f"restored from {args.dir}: database ({manifest['database']['dialect']}) and "
          f"{len(manifest['media'])} media files, checked against their sha256")
    return 0


def cmd_retention(args: argparse.Namespace) -> int:
    from dictation.db import Database
    from dictation.ops.retention import purge
    from dictation.settings import get_settings
    from dictation.storage import MediaStore

    settings = get_settings()
    database = Database(settings)
    try:
        report = purge(database, MediaStore(settings.media_dir), settings)
    finally:
        database.dispose()
    print(report.summary())
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="check database, queue, model, device, media store, destinations and mail")
    p.add_argument("--skip-model", action="store_true", help="do not load the transcription model")
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("backup", help="write a consistent copy of the database and the media store to DIR")
    p.add_argument("dir")
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", help="restore a backup from DIR into an empty installation")
    p.add_argument("dir")
    p.set_defaults(func=cmd_restore)

    retention = sub.add_parser("retention", help="the DICTATION_RETAIN_*_DAYS policy").add_subparsers(
        dest="retention_command", required=True)
    p = retention.add_parser("run", help="remove media past its retention now (the daily job does this too)")
    p.set_defaults(func=cmd_retention)
