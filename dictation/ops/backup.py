"""`dictation backup DIR` and `dictation restore DIR`.

A backup is a folder: the database (SQLite through its online backup API, PostgreSQL through
`pg_dump` in one snapshot), the media store file for file, the installation's own secret key
when it has one, and `manifest.json` with the sha256 of every file, written last: a folder
without a manifest is an unfinished backup. The database is copied before the media, so every
recording the copy points at already exists (media files are only written before a row names
them).

PostgreSQL dumps hold the data only; restore first builds the schema with the migrations at
the backup's revision, loads the data, then migrates to this code's head, so a backup made by
an older version restores into a newer one. Tables are qualified by their schema, so a
PostgreSQL backup restores into a schema of the same name (`public` in most installations).

Restore goes into an empty installation only, and checks every file against the manifest
before it writes anything.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from dictation.errors import Conflict, InvalidInput
from dictation.settings import Settings

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.pgdump"
SECRET_FILE = "secret.key"
_BLOCK = 1 << 20


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def _copy_hashed(source: Path, target: Path) -> str:
    """Copy through a temporary name, hashing the bytes written; returns their sha256."""
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as out, source.open("rb") as handle:
            for block in iter(lambda: handle.read(_BLOCK), b""):
                digest.update(block)
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return digest.hexdigest()


def _media_files(root: Path) -> list[Path]:
    """Stored files only: never an upload in progress or a temporary copy (dot names)."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and not any(part.startswith(".")
                                                                         for part in p.relative_to(root).parts))


def _sqlite_path(settings: Settings) -> Path:
    return Path(make_url(settings.sqlalchemy_url).database or "")


def _pg_target(settings: Settings) -> tuple[str, dict[str, str], str]:
    """(libpq URI without the password, environment with PGPASSWORD, the schema searched)."""
    url = make_url(settings.sqlalchemy_url)
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = str(url.password)  # never on a command line others can list
    uri = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    options = url.query.get("options", "")
    options = " ".join(options) if isinstance(options, tuple) else options
    schema = "public"
    for option in str(options).split():
        if option.startswith("-csearch_path="):
            schema = option.split("=", 1)[1].split(",")[0].strip() or "public"
    return uri, env, schema


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    if shutil.which(command[0]) is None:
        raise InvalidInput(f"{command[0]} is not installed: install postgresql-client (Debian) to {what}.")
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise InvalidInput(f"{command[0]} failed to {what}: {done.stderr.strip()[-600:]}")


def _dialect(settings: Settings) -> str:
    return make_url(settings.sqlalchemy_url).get_backend_name()


def backup(settings: Settings, target: Path) -> dict:
    """Write a backup of this installation into `target` (absent or empty); returns the manifest."""
    from dictation import migrations

    target = Path(target)
    if target.exists() and any(target.iterdir()):
        raise Conflict(f"{target} is not empty: give a new folder for each backup, so none is overwritten.")
    target.mkdir(parents=True, exist_ok=True)
    dialect = _dialect(settings)
    revision = migrations.current(settings.sqlalchemy_url)
    if dialect == "sqlite":
        source = _sqlite_path(settings)
        if not source.is_file():
            raise InvalidInput(f"There is no database at {source} to back up.")
        database_file = target / SQLITE_FILE
        with sqlite3.connect(source) as live, sqlite3.connect(database_file) as copy:
            live.backup(copy)  # a consistent copy while the app keeps writing
        copy.close()
        live.close()
    elif dialect == "postgresql":
        uri, env, schema = _pg_target(settings)
        database_file = target / PG_FILE
        _run(["pg_dump", "--format=custom", "--data-only", "--no-owner", "--no-privileges",
              f"--schema={schema}", f"--exclude-table={schema}.alembic_version", f"--file={database_file}", uri],
             env, "dump the database")
    else:
        raise InvalidInput(f"Backing up a {dialect} database is not supported; use SQLite or PostgreSQL.")

    media = []
    for path in _media_files(settings.media_dir):
        relative = path.relative_to(settings.media_dir).as_posix()
        sha = _copy_hashed(path, target / "media" / relative)
        media.append({"path": relative, "size": path.stat().st_size, "sha256": sha})
    secret = settings.data_dir / SECRET_FILE
    has_secret = secret.is_file()
    if has_secret:  # encrypts the CMS secrets in development installs: without it they are lost
        _copy_hashed(secret, target / SECRET_FILE)
        os.chmod(target / SECRET_FILE, 0o600)

    manifest = {
        "format": FORMAT,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "database": {"dialect": dialect, "file": database_file.name, "sha256": _sha256(database_file),
                     "revision": revision},
        "media": media,
        "secret_key": {"file": SECRET_FILE, "sha256": _sha256(target / SECRET_FILE)} if has_secret else None,
    }
    temp = target / f".{MANIFEST}"
    temp.write_text(json.dumps(manifest, indent=1))
    os.replace(temp, target / MANIFEST)
    return manifest


def read_manifest(source: Path) -> dict:
    """The manifest, after checking every file of the backup against it."""
    path = Path(source) / MANIFEST
    if not path.is_file():
        raise InvalidInput(f"{source} holds no {MANIFEST}: it is not a backup, or the backup did not finish.")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT:
        raise InvalidInput(f"This backup's format ({manifest.get('format')}) is not one this version reads.")
    expected = [(manifest["database"]["file"], manifest["database"]["sha256"])]
    expected += [(f"media/{item['path']}", item["sha256"]) for item in manifest["media"]]
    if manifest.get("secret_key"):
        expected.append((manifest["secret_key"]["file"], manifest["secret_key"]["sha256"]))
    damaged = [name for name, sha in expected
               if ".." in Path(name).parts or not (Path(source) / name).is_file()
               or _sha256(Path(source) / name) != sha]
    if damaged:
        shown = ", ".join(damaged[:5]) + (f" and {len(damaged) - 5} more" if len(damaged) > 5 else "")
        raise InvalidInput(f"The backup is damaged: {shown} missing or not as backed up. Nothing was restored.",
                           damaged=damaged)
    return manifest


def _refuse_non_empty(settings: Settings) -> None:
    from dictation.db import make_engine

    engine = make_engine(settings.sqlalchemy_url)
    try:
        tables = [name for name in inspect(engine).get_table_names() if name != "alembic_version"]
    finally:
        engine.dispose()
    files = _media_files(settings.media_dir)
    if tables or files:
        raise Conflict(
            f"This installation is not empty ({len(tables)} tables, {len(files)} media files): restore only into "
            "an empty database and data directory, so nothing here is overwritten."
        )


def restore(settings: Settings, source: Path) -> dict:
    """Restore the backup in `source` into this (empty) installation; returns its manifest."""
    from dictation import migrations

    source = Path(source)
    manifest = read_manifest(source)
    dialect = _dialect(settings)
    if manifest["database"]["dialect"] != dialect:
        raise InvalidInput(f"This backup holds a {manifest['database']['dialect']} database; this installation "
                           f"uses {dialect}. Point DICTATION_DATABASE_URL at a {manifest['database']['dialect']} one.")
    _refuse_non_empty(settings)
    database_file = source / manifest["database"]["file"]
    if dialect == "sqlite":
        target = _sqlite_path(settings)
        target.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(database_file) as copy, sqlite3.connect(target) as live:
            copy.backup(live)
        copy.close()
        live.close()
    else:
        revision = manifest["database"]["revision"]
        migrations.upgrade(settings.sqlalchemy_url, revision or "head")
        uri, env, _schema = _pg_target(settings)
        _run(["pg_restore", "--data-only", "--single-transaction", "--exit-on-error", "--no-owner",
              "--no-privileges", f"--dbname={uri}", str(database_file)], env, "load the database")
    migrations.upgrade(settings.sqlalchemy_url)

    for item in manifest["media"]:
        written = _copy_hashed(source / "media" / item["path"], settings.media_dir / item["path"])
        if written != item["sha256"]:
            raise InvalidInput(f"Copying {item['path']} changed its bytes; check the disk under {settings.media_dir}.")
    if manifest.get("secret_key"):
        # Any key this empty install made for itself has encrypted nothing yet.
        _copy_hashed(source / manifest["secret_key"]["file"], settings.data_dir / SECRET_FILE)
        os.chmod(settings.data_dir / SECRET_FILE, 0o600)
    return manifest
