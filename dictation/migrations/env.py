"""Alembic's entry point. The connection comes from `dictation.migrations.upgrade()`; run
without one (offline SQL), it uses the `sqlalchemy.url` option of the config."""

from __future__ import annotations

from alembic import context
from sqlalchemy.types import TypeDecorator

from dictation.db import make_engine
from dictation.schema import metadata as target_metadata  # every table, the feature packages' included


def render_item(type_, obj, autogen_context):
    # Revisions must not import app types: they outlive them. Render a decorator as its impl.
    if type_ == "type" and isinstance(obj, TypeDecorator):
        autogen_context.imports.add("import sqlalchemy as sa")
        impl = obj.impl
        if getattr(impl, "timezone", False):
            return "sa.DateTime(timezone=True)"
        return f"sa.{impl!r}"
    return False


def _configure(**kwargs) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        render_item=render_item,
        **kwargs,
    )


def _url() -> str:
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("Alembic was started without sqlalchemy.url; run migrations through dictation.migrations.")
    return url


def run_offline() -> None:
    url = _url()
    _configure(url=url, literal_binds=True, render_as_batch=url.startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()


def _run(connection) -> None:
    # SQLite cannot ALTER most things: batch mode rebuilds the table instead.
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
