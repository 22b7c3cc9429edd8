"""Destination secrets are encrypted at rest with a key derived from the settings."""

from __future__ import annotations

import pytest

from dictation.errors import DictationError
from dictation.publish.cms import Destination
from dictation.publish.secretbox import decrypt, encrypt

SECRET = "abcd EFGH 1234 ijkl MNOP 5678"  # shaped like a WordPress Application Password


def test_encrypt_secret_round_trips_without_clear_text():
    token = encrypt(SECRET, "server key one")

    assert decrypt(token, "server key one") == SECRET
    assert SECRET not in token and "EFGH" not in token and "server key" not in token
    assert encrypt(SECRET, "server key one") != token  # a fresh IV each time: equal secrets don't show


def test_decrypt_with_wrong_key_fails_with_explanation():
    token = encrypt(SECRET, "server key one")

    with pytest.raises(DictationError) as caught:
        decrypt(token, "server key two")
    assert "DICTATION_SECRET_KEY" in caught.value.message and SECRET not in caught.value.message


def test_decrypt_refuses_tampered_token():
    token = encrypt(SECRET, "k")
    flipped = token[:-5] + ("A" if token[-5] != "A" else "B") + token[-4:]
    with pytest.raises(DictationError):
        decrypt(flipped, "k")


def test_destination_repr_hides_secret():
    destination = Destination(kind="wordpress", url="https://blog.example", user="me", secret=SECRET)
    assert SECRET not in repr(destination) and SECRET not in str(destination)
