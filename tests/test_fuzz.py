"""Fuzzing the API from its own OpenAPI schema (schemathesis): every operation, with no
credentials, as an author and as an admin, on PostgreSQL (the strictest of the two
databases: NUL, integer range, string length). No answer may be a 500, and every answer
must match what the schema documents for its status.

FUZZ_EXAMPLES sets the examples per operation: a few dozen in `make test` (about two
minutes), many more in `make fuzz`.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from tests.conftest import need
from tests.support.api import make_person

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.fixture(scope="module")
def fuzz_people(tmp_path_factory):
    """One app on one PostgreSQL schema for every operation: what one operation's examples
    create (tokens, users, destinations) is what the next ones meet, as on a real server."""
    import uuid

    import sqlalchemy as sa

    from api import create_app
    from dictation.db import Database
    from dictation.schema import metadata
    from dictation.settings import Settings
    from tests.support.dbfixtures import PG_URL, pg_available

    need(pg_available(), f"PostgreSQL does not answer at {PG_URL}")
    schema_name = f"fuzz_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema_name}"'))
    sep = "&" if "?" in PG_URL else "?"
    settings = Settings(data_dir=tmp_path_factory.mktemp("fuzz"),
                        database_url=f"{PG_URL}{sep}options=-csearch_path%3D{schema_name}")
    setup = Database(settings)
    metadata.create_all(setup.engine)
    setup.dispose()
    app = create_app(settings, migrate=False)
    people = {"author": make_person(app, "author"), "admin": make_person(app, "admin")}
    try:
        yield app, people
    finally:
        app.state.database.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema_name}" CASCADE'))
        admin.dispose()


def _operations() -> list[tuple[str, str]]:
    """Every operation, read from the schema the app serves (collected without a database)."""
    import tempfile

    from api import create_app
    from dictation.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        document = create_app(Settings(data_dir=tmp), migrate=False).openapi()
    methods = ("get", "put", "post", "delete", "patch")
    return [(path, method.upper()) for path, item in document["paths"].items() for method in item if method in methods]


# schemathesis.pytest.from_fixture fails on pytest 9 (it sets a node id pytest no longer has),
# so each operation is its own test and Hypothesis drives its strategy directly.
@pytest.mark.parametrize(("path", "method"), _operations(), ids=lambda v: v)
def test_answer_every_operation_without_500_and_as_documented(path, method, fuzz_people):
    app, people = fuzz_people
    operation = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)[path][method]

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def fuzz(case):
        case.call_and_validate(checks=CHECKS)  # no credentials: 401s, as documented
        for person in people.values():
            case.call_and_validate(headers={**(case.headers or {}), **person.auth}, checks=CHECKS)

    fuzz()
