"""Accounts: argon2 passwords, hashed personal API tokens, browser sessions with a CSRF token
per session, the sign-in throttle, and who may see which memo. No web framework here: `api/`
reads the header or cookie and hands the string to these functions."""

from dictation.accounts.access import can_see, require_role, visible_memos_query
from dictation.accounts.passwords import (
    MIN_PASSWORD_LENGTH,
    authenticate,
    change_password,
    create_user,
    deactivate_user,
    hash_password,
    normalise_email,
    parse_role,
    set_password,
    verify_password,
)
from dictation.accounts.redirects import safe_next
from dictation.accounts.sessions import (
    SessionCookies,
    delete_expired_sessions,
    end_all_sessions,
    end_session,
    list_sessions,
)
from dictation.accounts.throttle import SignInThrottle
from dictation.accounts.tokens import (
    TOKEN_PREFIX,
    create_token,
    revoke_token,
    token_owner,
    token_owner_awaited,
    user_for_token,
    visible_tokens_query,
)

__all__ = [
    "MIN_PASSWORD_LENGTH", "TOKEN_PREFIX", "SessionCookies", "SignInThrottle", "authenticate", "can_see",
    "change_password", "create_token", "create_user", "deactivate_user", "hash_password", "normalise_email",
    "parse_role", "require_role", "revoke_token", "set_password", "token_owner", "token_owner_awaited",
    "user_for_token", "verify_password",
    "visible_memos_query", "visible_tokens_query", "delete_expired_sessions", "end_all_sessions", "end_session",
    "list_sessions", "safe_next",
]
