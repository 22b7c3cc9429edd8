"""Where a browser may be sent after signing in: the one rule, used by the sign-in API and by
the sign-in page (which hands the already-checked value to its script)."""

from __future__ import annotations

import unicodedata
from urllib.parse import urlsplit

MAX_NEXT_LENGTH = 2000


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None.

    Browsers forgive a lot in a Location header or `location.assign`: they drop tabs and
    newlines (`/\\t/evil.example` becomes `//evil.example`), read a backslash as a slash and
    `//host` as another site. So only a plain absolute path passes: no control or blank
    characters at all, no backslash, no second leading slash, no scheme or host.
    """
    if not target or len(target) > MAX_NEXT_LENGTH or not target.startswith("/"):
        return None
    if any(unicodedata.category(c)[0] in "CZ" for c in target) or "\\" in target:
        return None  # control, format, separator and blank characters; backslashes
    if target.startswith("//"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target
