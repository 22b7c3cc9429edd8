"""A server process freezes what it holds after startup out of the garbage collector, once, so
a full collection under load walks only what requests made. bench/load.py saw full collections
of ~190,000 startup objects pause each server process for up to 290 ms, several times a minute."""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient

from api.app import create_app


def test_start_app_freezes_startup_objects_once(settings):
    gc.unfreeze()  # whatever an earlier test's app froze in this process
    try:
        walked_before = len(gc.get_objects())
        with TestClient(create_app(settings)):
            frozen = gc.get_freeze_count()
            # The imports' modules, classes and functions: most of what the collector walked.
            assert frozen > walked_before / 2
            assert len(gc.get_objects()) < frozen / 4
        with TestClient(create_app(settings)):
            # Not frozen again (frozen objects freed by their last reference leave the count).
            assert gc.get_freeze_count() <= frozen
    finally:
        gc.unfreeze()
