"""The tables of learning from corrections (with the core ones in `dictation.schema.metadata`).

Kept beside their package rather than in models.py: three tables with their own life, and
models.py is near the size where a file stops being read whole."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dictation.db import Base, utcnow


class Correction(Base):
    """One word (or a few) the model heard and a person wrote otherwise in a published draft.
    Mined again at each publication of the draft (the draft's rows are replaced)."""

    __tablename__ = "corrections"

    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id", ondelete="CASCADE"), index=True)
    memo_id: Mapped[int] = mapped_column(ForeignKey("memos.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    language: Mapped[str] = mapped_column(String(8))
    heard: Mapped[str] = mapped_column(String(200))  # as the model wrote it
    heard_key: Mapped[str] = mapped_column(String(200), index=True)  # normalised: the grouping key
    written: Mapped[str] = mapped_column(String(200))  # as the published text has it
    is_name: Mapped[bool] = mapped_column(Boolean, default=False)  # capitalised mid-sentence
    context: Mapped[str] = mapped_column(String(400), default="")  # a few published words around
    start: Mapped[float] = mapped_column(Float)  # the heard words' time range in the memo
    end: Mapped[float] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class VocabularyEntry(Base):
    """An assistant's or admin's decision on a proposal: accepted terms bias transcription and
    compose; a rejected one is not proposed again."""

    __tablename__ = "vocabulary"
    __table_args__ = (UniqueConstraint("heard_key", "written", "language", "author_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    heard_key: Mapped[str] = mapped_column(String(200))
    written: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(8))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None = every author
    status: Mapped[str] = mapped_column(String(16))  # accepted, rejected
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class LearnedWord(Base):
    """A word compose wrote from the vocabulary where the model still heard the old form: shown
    marked in the editor, where the assistant can put the heard form back."""

    __tablename__ = "learned_words"

    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id", ondelete="CASCADE"), index=True)
    heard: Mapped[str] = mapped_column(String(200))
    written: Mapped[str] = mapped_column(String(200))
    # Which whole-word occurrence of `written` in the machine's text this one is (0 = first).
    occurrence: Mapped[int] = mapped_column(Integer, default=0)
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    reverted: Mapped[bool] = mapped_column(Boolean, default=False)
