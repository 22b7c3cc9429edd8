"""CMS passwords, tokens and keys, encrypted at rest.

Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) with a key derived by HKDF from
`settings.secret_key`, so the database alone never reveals a destination's secret. The
plaintext exists only in memory, for the request that needs it.
"""

from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from dictation.errors import DictationError

# Binds derived keys to this use, so the same secret_key signing cookies yields another key.
_INFO = b"dictation-desk/destination-secrets/v1"


@functools.lru_cache(maxsize=8)
def _fernet(secret_key: str) -> Fernet:
    if not secret_key:
        raise DictationError("The secret key is empty; set DICTATION_SECRET_KEY before storing CMS secrets.")
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret_key.encode("utf-8"))
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt(plaintext: str, key: str) -> str:
    """An opaque token (ASCII) to store instead of `plaintext`; `key` is settings.secret_key."""
    return _fernet(key).encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(token: str, key: str) -> str:
    try:
        return _fernet(key).decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError, ValueError) as exc:
        raise DictationError(
            "A stored destination secret cannot be decrypted: DICTATION_SECRET_KEY has changed "
            "since it was saved. Enter the destination's password or key again."
        ) from exc
