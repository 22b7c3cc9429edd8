"""Backup and restore, round trip on SQLite and on PostgreSQL through the `dictation` command:
memos, drafts, revisions, publications, jobs and audio come back byte for byte, into an empty
installation only, and a damaged backup restores nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import sqlalchemy as sa
from sqlalchemy import text

from dictation import migrations
from dictation.db import Base
from dictation.models import Destination, DraftRevision, Job, Publication
from dictation.publish import destinations
from dictation.settings import Settings, get_settings
from dictation.storage import MediaStore
from tests.conftest import ROOT, shared_file
from tests.support.dbfixtures import make_draft, make_memo, make_user

TABLES = ("users", "memos", "drafts", "draft_revisions", "destinations", "publications", "jobs", "audit_log")


def dictation(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dictation", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=300)


def snapshot(engine) -> dict[str, list[dict]]:
    """Every row of the tables that matter, in id order."""
    with engine.connect() as conn:
        return {name: [dict(row._mapping) for row in conn.execute(
            sa.select(Base.metadata.tables[name]).order_by(Base.metadata.tables[name].c.id))]
            for name in TABLES}


def populate(database, settings: Settings) -> list[str]:
    """A published memo with its audio, playback copy, draft, two revisions and a publication."""
    store = MediaStore(settings.media_dir)
    original = store.save_stream(shared_file("audio/real/jfk.flac").read_bytes())
    playback = store.save_stream(shared_file("audio/real/pv_test.wav").read_bytes())
    with database.session() as session:
        author = make_user(session, "author", name="Élodie Kowalczyk")
        memo = make_memo(session, author, status="published", media_sha256=original.sha256,
                         playback_sha256=playback.sha256, transcript={"text": "ask not", "segments": []},
                         peaks=[0.1, 0.5, 0.2])
        draft = make_draft(session, memo, title="Ask not", body_markdown="And so, my fellow Americans…", version=2)
        for version in (1, 2):
            session.add(DraftRevision(draft_id=draft.id, version=version, title="Ask not",
                                      body_markdown=f"version {version}"))
        destinations.add_destination(session, settings, "hook", "webhook", url="http://127.0.0.1:9/hook",
                                     secret="webhook-secret-kept-encrypted")
        hook = session.scalar(sa.select(Destination).where(Destination.name == "hook"))
        publication = Publication(draft_id=draft.id, destination_id=hook.id, status="published", remote_id="42",
                                  remote_url="http://example.test/ask-not", published_version=2)
        session.add(publication)
        session.flush()
        session.add(Job(kind="publish", memo_id=memo.id, publication_id=publication.id, status="done",
                        request_id="req-1"))
    return [original.sha256, playback.sha256]


def test_backup_then_restore_round_trip_byte_for_byte(any_db, data_dir, tmp_path):
    database = any_db
    migrations.upgrade(database)  # stamps the tables the fixture made: backups record the revision
    url = database.settings.sqlalchemy_url
    settings = get_settings()  # the installation's own key encrypts the CMS secret, as in use
    shas = populate(database, settings)
    before = snapshot(database.engine)
    media_before = {sha: MediaStore(settings.media_dir).path(sha).read_bytes() for sha in shas}
    env = {"DICTATION_DATA_DIR": str(data_dir)}
    if database.engine.dialect.name == "postgresql":
        env["DICTATION_DATABASE_URL"] = url

    done = dictation("backup", str(tmp_path / "backup"), env=env)
    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert {item["sha256"] for item in manifest["media"]} == set(shas)
    assert manifest["database"]["revision"] == migrations.head()
    again = dictation("backup", str(tmp_path / "backup"), env=env)
    assert again.returncode == 2 and "not empty" in again.stderr

    # An empty installation: a new data dir, and on PostgreSQL the same schema, emptied.
    target_dir = tmp_path / "restored"
    target_env = {**env, "DICTATION_DATA_DIR": str(target_dir)}
    if database.engine.dialect.name == "postgresql":
        database.dispose()
        schema = url.rsplit("%3D", 1)[1]
        with sa.create_engine(url, isolation_level="AUTOCOMMIT").connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    done = dictation("restore", str(tmp_path / "backup"), env=target_env)
    assert done.returncode == 0, done.stderr

    from dictation.db import make_engine

    restored_url = url if database.engine.dialect.name == "postgresql" else f"sqlite:///{target_dir}/dictation.sqlite3"
    engine = make_engine(restored_url)
    try:
        assert snapshot(engine) == before
        assert migrations.current(engine) == migrations.head()
        with engine.begin() as conn:  # sequences came back too: a new row does not collide
            conn.execute(sa.insert(Base.metadata.tables["audit_log"]).values(
                memo_id=before["memos"][0]["id"], action="check", to_state="published", created_at=sa.func.now()))
    finally:
        engine.dispose()
    for sha, data in media_before.items():
        assert MediaStore(target_dir / "media").path(sha).read_bytes() == data
    # The CMS secret is still readable with the restored installation's key.
    restored = Settings(data_dir=target_dir, database_url=target_env.get("DICTATION_DATABASE_URL"))
    from dictation.db import Database

    restored_db = Database(restored)
    try:
        from dictation.settings import local_secret_key

        restored = restored.model_copy(update={"secret_key": local_secret_key(target_dir)})
        with restored_db.session() as session:
            hook = session.scalar(sa.select(Destination).where(Destination.name == "hook"))
            assert destinations.to_config(hook, restored).secret == "webhook-secret-kept-encrypted"
    finally:
        restored_db.dispose()

    twice = dictation("restore", str(tmp_path / "backup"), env=target_env)
    assert twice.returncode == 2 and "not empty" in twice.stderr


def test_refuse_restore_of_damaged_backup(db, data_dir, tmp_path):
    migrations.upgrade(db)
    shas = populate(db, get_settings())
    env = {"DICTATION_DATA_DIR": str(data_dir)}
    assert dictation("backup", str(tmp_path / "backup"), env=env).returncode == 0
    damaged = tmp_path / "backup" / "media" / shas[0][:2] / shas[0]
    data = bytearray(damaged.read_bytes())
    data[1000] ^= 0xFF
    damaged.write_bytes(bytes(data))
    done = dictation("restore", str(tmp_path / "backup"), env={"DICTATION_DATA_DIR": str(tmp_path / "empty")})
    assert done.returncode == 2 and "damaged" in done.stderr and shas[0] in done.stderr
    assert not (tmp_path / "empty" / "media").exists()
    assert not (tmp_path / "empty" / "dictation.sqlite3").exists()
