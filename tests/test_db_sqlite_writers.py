"""SQLite writers of one process take turns on a lock instead of sleeping in SQLite's busy handler.

The busy timeout is set to 0 here, so any write that reached SQLite while another held the
database would fail at once with "database is locked": these tests pass only if the writers
queued before SQLite saw them.
"""

from __future__ import annotations

import threading

from sqlalchemy import event, text

from dictation.db import make_engine


def _engine(path):
    engine = make_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _no_waiting(dbapi_connection, _record):
        dbapi_connection.execute("PRAGMA busy_timeout=0")

    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE said (who INTEGER, n INTEGER)"))
    return engine


def test_sqlite_second_writer_waits_for_first_commit(tmp_path):
    engine = _engine(tmp_path / "db.sqlite3")
    first_wrote, let_go = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def first() -> None:
        with engine.connect() as conn:
            conn.execute(text("INSERT INTO said VALUES (1, 1)"))
            first_wrote.set()
            let_go.wait(10)
            conn.commit()

    def second() -> None:
        try:
            with engine.connect() as conn:
                conn.execute(text("INSERT INTO said VALUES (2, 1)"))
                conn.commit()
        except BaseException as exc:  # "database is locked" without the lock
            failures.append(exc)

    a = threading.Thread(target=first)
    a.start()
    assert first_wrote.wait(10)
    b = threading.Thread(target=second)
    b.start()
    b.join(0.3)
    assert b.is_alive()  # queued behind the open write, not failed
    let_go.set()
    a.join(10)
    b.join(10)
    assert failures == []
    with engine.connect() as conn:
        assert conn.execute(text("SELECT who FROM said ORDER BY rowid")).scalars().all() == [1, 2]
    engine.dispose()


def test_sqlite_many_writers_all_land(tmp_path):
    engine = _engine(tmp_path / "db.sqlite3")
    failures: list[BaseException] = []

    def writer(who: int) -> None:
        try:
            for _ in range(25):
                with engine.begin() as conn:
                    count = conn.execute(text("SELECT count(*) FROM said")).scalar_one()
                    conn.execute(text("INSERT INTO said VALUES (:who, :n)"), {"who": who, "n": count})
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(who,)) for who in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM said")).scalar_one() == 200
    engine.dispose()


def test_sqlite_reader_not_held_by_open_write(tmp_path):
    engine = _engine(tmp_path / "db.sqlite3")
    with engine.connect() as writing:
        writing.execute(text("INSERT INTO said VALUES (1, 1)"))
        with engine.connect() as reading:  # same thread: a read never takes the writers' lock
            assert reading.execute(text("SELECT count(*) FROM said")).scalar_one() == 0
        writing.commit()
    engine.dispose()
