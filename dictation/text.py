"""Text that people type, made safe to store, mail and put in XML, in one place.

Control characters cannot be typed on purpose, are invisible on every page, and break what
the text flows into: PostgreSQL refuses NUL, XML (the Atom feed) refuses most of C0, and a
newline in a mail subject is header injection. So they are cleaned, never refused: a
one-line field (title, name, tag) turns line breaks and tabs into spaces, a text (body,
comment, note) keeps its lines, and the rest are dropped. A lone surrogate is not text at
all (no encoding can store it), so it is refused with a sentence.
"""

from __future__ import annotations

import re

from dictation.errors import InvalidInput

# C0 and C1 controls, DEL, and the two XML non-characters; \t \n \r are handled first.
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")
_LINE_BREAKS = re.compile("\r\n?|[\x0b\x0c\x85\u2028\u2029]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def refuse_broken(value: str, field: str = "text") -> str:
    """The value unchanged, or InvalidInput if it holds a lone surrogate."""
    if _SURROGATE.search(value):
        raise InvalidInput(
            f"The {field} holds a broken character (a lone UTF-16 surrogate) that cannot be stored; "
            "type or paste it again."
        )
    return value


def clean_text(value: str, field: str = "text", *, refuse: bool = True) -> str:
    """Many lines: line breaks become \\n, tabs stay, other control characters go. With
    refuse=False (text on its way out, e.g. into a mail) a lone surrogate becomes U+FFFD."""
    if refuse:
        refuse_broken(value, field)
    else:
        value = _SURROGATE.sub("\ufffd", value)
    return _INVISIBLE.sub("", _LINE_BREAKS.sub("\n", value))


def clean_line(value: str, field: str = "text", *, refuse: bool = True) -> str:
    """One line: line breaks and tabs become spaces, other control characters go."""
    return clean_text(value, field, refuse=refuse).replace("\n", " ").replace("\t", " ")


def file_name(value: str | None) -> str | None:
    """A name for a download: the last part of what the client called it, on one line."""
    if not value:
        return None
    name = clean_line(value.replace("\\", "/").rsplit("/", 1)[-1], "file name").strip().lstrip(".")
    return name[:255] or None


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def printable(value):
    """For templates (`finalize`): what XML 1.0 cannot hold is left out, so one stored title
    with a control character cannot break a whole feed. Markup stays Markup."""
    if not isinstance(value, str):
        return value
    cleaned = _NOT_XML.sub("", value)
    if cleaned == value:
        return value
    return type(value)(cleaned) if hasattr(value, "__html__") else cleaned


# An absolute POSIX path (two parts or more) not inside a URL: "/srv/dd/media/ab/abcd".
_PATH = re.compile(r"(?<![\w:/.~-])/(?:[\w.@+~-]+/)+([\w.@+~-]*)")


def without_paths(message: str) -> str:
    """A message for people, with the server's file paths cut down to their last part: an
    author reading why a memo failed learns nothing about the server's layout."""
    return _PATH.sub(lambda m: m.group(1) or "…", message)
