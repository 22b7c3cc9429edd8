"""Content sniffing: which audio container a file's first bytes announce, and what a file
that is not audio seems to be, from signatures alone (no decoding, no PyAV)."""

from __future__ import annotations

_PREFIXES = [(b"OggS", "ogg"), (b"fLaC", "flac"), (b"#!AMR", "amr"), (b"\x1a\x45\xdf\xa3", "matroska")]
_IMAGE_BRANDS = {b"heic", b"heix", b"mif1", b"msf1", b"avif", b"avis", b"crx "}
_NOT_AUDIO = [  # (offset, signature, what it is)
    (0, b"\x89PNG\r\n\x1a\n", "a PNG image"), (0, b"\xff\xd8\xff", "a JPEG image"), (0, b"GIF8", "a GIF image"),
    (8, b"WEBP", "a WebP image"), (0, b"%PDF", "a PDF document"), (0, b"\x1f\x8b", "a gzip archive"),
    (0, b"PK\x03\x04", "a ZIP archive or office document"), (0, b"\x7fELF", "a program"), (0, b"MZ", "a program"),
] + [(8, brand, "a HEIC/AVIF photo") for brand in _IMAGE_BRANDS]
_3GP_BRANDS = (b"3gp", b"3g2", b"3ge", b"3gg", b"3gs")
# What a recording is served as, by the container sniffing names; the sniffed bytes decide,
# not the client's claim (an upload's Content-Type, a mail attachment's label).
MEDIA_TYPES = {
    "m4a": "audio/mp4", "mp4": "audio/mp4", "3gp": "audio/3gpp", "ogg": "audio/ogg",
    "webm": "audio/webm", "matroska": "audio/x-matroska", "mp3": "audio/mpeg", "aac": "audio/aac",
    "flac": "audio/flac", "wav": "audio/wav", "amr": "audio/amr",
}


def sniff(head: bytes) -> str | None:
    """Name the audio container the first bytes of a file announce, or None if not audio.

    Give it at least the first 64 bytes (4 KiB lets it look past an ID3 tag and check that
    raw MP3/AAC frames follow one another). Returns m4a, 3gp, mp4, ogg, webm, matroska, mp3,
    aac, flac, wav or amr. It reads signatures only: a file it names may still be damaged.
    """
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _IMAGE_BRANDS:
            return None
        if brand.startswith(_3GP_BRANDS):
            return "3gp"
        return "mp4" if brand in (b"M4V ", b"M4VP", b"qt  ") else "m4a"
    for prefix, name in _PREFIXES:
        if head.startswith(prefix):
            return "webm" if name == "matroska" and b"webm" in head[:64] else name
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"ID3") and len(head) >= 10:
        # The tag's size is a 28-bit "syncsafe" integer; what follows tells MP3 from AAC/FLAC.
        end = 10 + (head[6] << 21 | head[7] << 14 | head[8] << 7 | head[9])
        return (sniff(head[end:]) or "mp3") if end < len(head) else "mp3"
    if _adts_frames(head):
        return "aac"
    return "mp3" if _mp3_frames(head) else None


def _adts_frames(head: bytes) -> bool:
    """Like `_mp3_frames`, for raw AAC (ADTS): a sane header and the next one where it says."""
    if len(head) < 7 or head[0] != 0xFF or head[1] & 0xF6 != 0xF0 or (head[2] >> 2) & 15 > 12:
        return False
    size = (head[3] & 3) << 11 | head[4] << 3 | head[5] >> 5
    # A frame holds at most 768 bytes per channel; bigger sizes are noise for a memo.
    return 7 <= size <= 3072 and (len(head) < size + 2 or (head[size] == 0xFF and head[size + 1] & 0xF6 == 0xF0))


_MP3_KBPS = ((0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),  # MPEG-1
             (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160))  # MPEG-2/2.5
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mp3_frames(head: bytes) -> bool:
    """An MPEG layer III frame header at 0, and another where it ends if `head` reaches there:
    one header alone is 11 bits, which random binary matches too often."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE6 != 0xE2:  # sync + layer III
        return False
    version, kbps_index, rate_index = (head[1] >> 3) & 3, head[2] >> 4, (head[2] >> 2) & 3
    if version == 1 or kbps_index in (0, 15) or rate_index == 3:
        return False
    kbps = _MP3_KBPS[version != 3][kbps_index]
    size = (144_000 if version == 3 else 72_000) * kbps // _MP3_RATES[version][rate_index] + ((head[2] >> 1) & 1)
    return len(head) < size + 2 or (head[size] == 0xFF and head[size + 1] & 0xE6 == 0xE2)


def looks_like(head: bytes) -> str | None:
    """What a non-audio file seems to be ("a PNG image", "a text file"), for an error message
    such as the upload endpoint's; None when we cannot tell."""
    for offset, magic, label in _NOT_AUDIO:
        if head.startswith(magic, offset):
            return label
    if b"\x00" not in head:
        text = head.decode("utf-8", errors="replace")
        # A multi-byte character cut at the end of `head` may leave one replacement char.
        if text.count("\ufffd") <= 1 and sum(c.isprintable() or c.isspace() for c in text) >= 0.95 * len(text):
            stripped = text.lstrip().lower()
            if stripped.startswith(("<!doctype html", "<html")):
                return "a web page"
            return "a text file"
    return None
