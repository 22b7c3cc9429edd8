"""The users service (dictation.accounts.users), on a real database: the last active admin stays."""

from __future__ import annotations

import pytest

from dictation.accounts import users
from dictation.errors import Conflict, NotFound
from dictation.models import Role
from tests.support.dbfixtures import make_user


def test_update_user_refuses_demoting_last_active_admin(any_db):
    with any_db.session() as session:
        admin = make_user(session, "admin")
        make_user(session, "admin", is_active=False)  # an inactive admin does not count
        name = admin.name
        with pytest.raises(Conflict, match="last active admin"):
            users.update_user(session, admin, users.UserChanges(role=Role.assistant, name="changed"))
        assert (admin.role, admin.name) == ("admin", name)  # refused as a whole: nothing changed
        with pytest.raises(Conflict, match="last active admin"):
            users.update_user(session, admin, users.UserChanges(is_active=False))
        assert admin.is_active


def test_update_user_demotes_admin_when_another_is_active(any_db):
    with any_db.session() as session:
        first, second = make_user(session, "admin"), make_user(session, "admin")
        users.update_user(session, first, users.UserChanges(is_active=False))
        assert not first.is_active
        with pytest.raises(Conflict):
            users.update_user(session, second, users.UserChanges(role="author"))


def test_update_user_changes_fields_and_reactivates(any_db):
    with any_db.session() as session:
        make_user(session, "admin")
        person = make_user(session, "assistant", is_active=False, language="fr")
        users.update_user(session, person, users.UserChanges(role="admin", name="  Ada  ", language="",
                                                               is_active=True))
        assert (person.role, person.name, person.language, person.is_active) == ("admin", "Ada", None, True)
        assert users.active_admins(session) == 2


def test_get_user_refuses_unknown_id(any_db):
    with any_db.session() as session, pytest.raises(NotFound, match="no user 999"):
        users.get_user(session, 999)
