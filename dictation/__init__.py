"""Dictation Desk: an executive's spoken memos become posts on the company blog."""

__version__ = "0.1.0"
