"""A post's featured image: picked in the editor's publish tab, sent with the post to the
built-in blog, WordPress (a media upload set as featured_media) and Ghost (an image upload
set as feature_image).

The type is read from the file's first bytes, never from its name or the browser's word:
JPEG, PNG, GIF and WebP, the types all three destinations show (415 with a sentence
otherwise). The size is counted while the bytes arrive (413 above DICTATION_MAX_IMAGE_MB).
The file lives in the media store like the recordings, named by its hash.
"""

from __future__ import annotations

from collections.abc import AsyncIterable

from sqlalchemy.orm import Session

from dictation.errors import DictationError, NotFound, TooLarge
from dictation.memos.drafts import check_may_edit
from dictation.models import Draft, User
from dictation.settings import Settings
from dictation.storage import MediaStore


class NotAnImage(DictationError):
    status = 415
    code = "not_an_image"


TYPES = "JPEG, PNG, GIF or WebP"


def sniff_image(head: bytes) -> str | None:
    """The image type these first bytes announce, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


async def read_image(chunks: AsyncIterable[bytes], settings: Settings) -> tuple[bytes, str]:
    """The whole image (a few MB at most) and its sniffed type; refused as soon as it is too big."""
    limit = settings.max_image_mb * 1024 * 1024
    data = bytearray()
    async for chunk in chunks:
        data += chunk
        if len(data) > limit:
            raise TooLarge(f"The image is larger than the limit of {settings.max_image_mb} MB; "
                           "pick a smaller one or scale it down.", max_bytes=limit)
    mime = sniff_image(bytes(data[:16]))
    if mime is None:
        raise NotAnImage(f"This file is not an image the blog can show; pick a {TYPES} file.")
    return bytes(data), mime


def set_featured_image(session: Session, settings: Settings, user: User, draft: Draft, data: bytes,
                       mime: str) -> Draft:
    """Keep the image for the draft's post. A previous one stays in the store: a live post
    may still show it until it is updated."""
    check_may_edit(user, draft)
    stored = MediaStore.from_settings(settings).save_stream(data)
    draft.featured_image_sha256, draft.featured_image_mime = stored.sha256, mime
    session.flush()
    return draft


def remove_featured_image(session: Session, user: User, draft: Draft) -> Draft:
    check_may_edit(user, draft)
    if not draft.featured_image_sha256:
        raise NotFound("This draft has no featured image.")
    draft.featured_image_sha256 = draft.featured_image_mime = None
    session.flush()
    return draft
