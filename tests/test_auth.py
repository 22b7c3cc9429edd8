"""dictation.accounts against a real database: argon2 passwords, hashed tokens, session cookies,
CSRF tokens and who sees which memo."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from dictation import accounts
from dictation.errors import Conflict, Forbidden, InvalidInput, NotFound
from dictation.models import ApiToken, User
from tests.support.dbfixtures import make_memo, make_user

PASSWORD = "s3cret-enough"


def test_hash_password_is_argon2_and_verifies():
    stored = accounts.hash_password(PASSWORD)
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert accounts.verify_password(stored, PASSWORD)
    assert not accounts.verify_password(stored, PASSWORD + "x")
    assert not accounts.verify_password(None, PASSWORD)
    assert not accounts.verify_password("not a hash", PASSWORD)


def test_hash_password_refuses_short_password():
    with pytest.raises(InvalidInput, match="at least 8"):
        accounts.hash_password("short")


def test_create_user_normalises_email_and_refuses_duplicate(any_db):
    with any_db.session() as session:
        user = accounts.create_user(session, "  Ada@Example.TEST ", "author", PASSWORD, name="Ada")
        assert (user.email, user.role, user.is_active) == ("ada@example.test", "author", True)
        with pytest.raises(Conflict, match="already an account"):
            accounts.create_user(session, "ada@example.test", "assistant")
        with pytest.raises(InvalidInput, match="not a role"):
            accounts.create_user(session, "bob@example.test", "boss")
        with pytest.raises(InvalidInput, match="not an e-mail"):
            accounts.create_user(session, "bob", "author")


def test_authenticate_accepts_right_password_only(any_db):
    with any_db.session() as session:
        accounts.create_user(session, "ada@example.test", "author", PASSWORD)
        passwordless = accounts.create_user(session, "phone@example.test", "author")
    with any_db.session() as session:
        assert accounts.authenticate(session, "ADA@example.test", PASSWORD).email == "ada@example.test"
        assert accounts.authenticate(session, "ada@example.test", "wrong password") is None
        assert accounts.authenticate(session, "nobody@example.test", PASSWORD) is None
        assert accounts.authenticate(session, "phone@example.test", "") is None
        accounts.deactivate_user(session, session.get(User, passwordless.id))
        accounts.deactivate_user(session, session.scalar(select(User).where(User.email == "ada@example.test")))
        assert accounts.authenticate(session, "ada@example.test", PASSWORD) is None


def test_change_password_refuses_wrong_current_password(any_db):
    cookies = accounts.SessionCookies("k" * 32, max_age_s=3600)
    with any_db.session() as session:
        ada = accounts.create_user(session, "ada@example.test", "author", PASSWORD)
        signed_in = cookies.issue(session, ada)
        with pytest.raises(Forbidden, match="current password is wrong"):
            accounts.change_password(session, ada, "not my password", "a brand new password")
        assert accounts.verify_password(ada.password_hash, PASSWORD)
        assert cookies.user(session, signed_in).id == ada.id  # nobody was signed out
        with pytest.raises(InvalidInput, match="at least 8"):
            accounts.change_password(session, ada, PASSWORD, "short")
        accounts.change_password(session, ada, PASSWORD, "a brand new password")
        assert accounts.authenticate(session, "ada@example.test", "a brand new password").id == ada.id
        assert cookies.user(session, signed_in) is None  # every browser signed out


def test_create_token_stores_only_its_hash(any_db):
    with any_db.session() as session:
        user = make_user(session, "author")
        row, token = accounts.create_token(session, user, "  Ada's phone ")
    assert token.startswith("dd_") and len(token) > 40
    with any_db.session() as session:
        stored = session.get(ApiToken, row.id)
        assert stored.name == "Ada's phone"
        assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in (stored.token_hash, stored.prefix) and token.startswith(stored.prefix)
        with pytest.raises(InvalidInput, match="name"):
            accounts.create_token(session, user, "  ")


def test_user_for_token_refuses_revoked_unknown_and_inactive(any_db):
    with any_db.session() as session:
        ada = make_user(session, "author")
        bob = make_user(session, "author")
        ada_row, ada_token = accounts.create_token(session, ada, "phone")
        _, bob_token = accounts.create_token(session, bob, "script")
    with any_db.session() as session:
        assert accounts.user_for_token(session, ada_token).id == ada.id
        assert session.get(ApiToken, ada_row.id).last_used_at is not None
        assert accounts.user_for_token(session, ada_token + "x") is None
        assert accounts.user_for_token(session, "Bearer " + ada_token) is None
        accounts.revoke_token(session, ada_row.id, session.get(User, ada.id))
        assert accounts.user_for_token(session, ada_token) is None
        accounts.deactivate_user(session, session.get(User, bob.id))
        assert accounts.user_for_token(session, bob_token) is None


def test_user_for_token_keeps_changes_of_owner_already_in_session(any_db):
    # The owner already in the session, changed and not yet flushed, is the one returned, its
    # change kept: not overwritten by the row read from the database.
    with any_db.session() as session:
        ada = make_user(session, "author")
        _, token = accounts.create_token(session, ada, "phone")
    with any_db.session() as session:
        user = session.get(User, ada.id)
        with session.no_autoflush:
            user.language = "fr"
            assert accounts.user_for_token(session, token) is user
        assert user.language == "fr"
    with any_db.session() as session:
        assert session.get(User, ada.id).language == "fr"


def test_revoke_token_only_own_unless_admin(any_db):
    with any_db.session() as session:
        ada = make_user(session, "author")
        eve = make_user(session, "assistant")
        admin = make_user(session, "admin")
        row, _ = accounts.create_token(session, ada, "phone")
        with pytest.raises(NotFound):
            accounts.revoke_token(session, row.id, eve)
        assert session.get(ApiToken, row.id).revoked_at is None
        assert accounts.revoke_token(session, row.id, admin).revoked_at is not None


def test_visible_memos_query_limits_authors_to_their_own(any_db):
    with any_db.session() as session:
        ada = make_user(session, "author")
        bob = make_user(session, "author")
        eve = make_user(session, "assistant")
        mine = make_memo(session, ada)
        theirs = make_memo(session, bob)
        assert {m.id for m in session.scalars(accounts.visible_memos_query(ada))} == {mine.id}
        assert {m.id for m in session.scalars(accounts.visible_memos_query(eve))} == {mine.id, theirs.id}
        assert accounts.can_see(ada, mine) and not accounts.can_see(ada, theirs) and accounts.can_see(eve, theirs)


def test_session_cookie_names_user_until_password_changes(db):
    cookies = accounts.SessionCookies("k" * 32, max_age_s=3600)
    with db.session() as session:
        ada = make_user(session, "author")
        value = cookies.issue(session, ada)
        assert cookies.user(session, value).id == ada.id
        assert cookies.user(session, value[:-2] + "xx") is None
        assert accounts.SessionCookies("other" * 8, 3600).user(session, value) is None
        accounts.set_password(session, ada, "a new password")
        assert cookies.user(session, value) is None


def test_session_cookie_expires(db):
    cookies = accounts.SessionCookies("k" * 32, max_age_s=-1)
    with db.session() as session:
        ada = make_user(session, "author")
        assert cookies.user(session, cookies.issue(session, ada)) is None


def test_csrf_token_belongs_to_one_session(db):
    cookies = accounts.SessionCookies("k" * 32, max_age_s=3600)
    with db.session() as session:
        ada = make_user(session, "author")
        first, second = cookies.issue(session, ada), cookies.issue(session, ada)
    token = cookies.csrf_token(first)
    assert cookies.check_csrf(first, token)
    assert not cookies.check_csrf(second, token)
    assert not cookies.check_csrf(first, None) and not cookies.check_csrf(first, "")
    assert not cookies.check_csrf("forged", cookies.csrf_token("forged"))


def test_throttle_sign_in_backs_off_per_client_without_locking_the_account():
    from dictation.accounts.throttle import SignInThrottle, ThrottleOptions
    from dictation.errors import TooManyAttempts

    now = [1000.0]
    options = ThrottleOptions(free_per_pair=3, free_per_client=6, first_wait_s=10, max_wait_s=100)
    throttle = SignInThrottle(options, clock=lambda: now[0])
    for _ in range(3):
        throttle.check("a@x", "10.0.0.1")
        throttle.failed("a@x", "10.0.0.1")
    with pytest.raises(TooManyAttempts) as refused:
        throttle.check("A@x ", "10.0.0.1")
    assert refused.value.status == 429 and refused.value.detail["retry_after_s"] == 10
    throttle.check("a@x", "10.0.0.2")  # the owner, elsewhere, is not locked out
    now[0] += 10
    throttle.check("a@x", "10.0.0.1")
    throttle.failed("a@x", "10.0.0.1")
    with pytest.raises(TooManyAttempts) as doubled:
        throttle.check("a@x", "10.0.0.1")
    assert doubled.value.detail["retry_after_s"] == 20  # each failure doubles the wait
    for n in range(2):  # spraying other addresses from the same client meets its own budget
        throttle.failed(f"b{n}@x", "10.0.0.1")
    with pytest.raises(TooManyAttempts):
        throttle.check("c@x", "10.0.0.1")
    throttle.succeeded("a@x", "10.0.0.1")
    now[0] += 4000  # forgotten after an hour without failures
    throttle.check("c@x", "10.0.0.1")
