"""`python -m dictation.migrations revision "message"`: autogenerate a revision for developers."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command

from dictation.migrations import config, upgrade


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "revision":
        print('usage: python -m dictation.migrations revision "what changed"', file=sys.stderr)
        return 2
    from dictation.db import make_engine

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'scratch.sqlite3'}")
        try:
            upgrade(engine)
            with engine.begin() as conn:
                command.revision(config(conn), message=argv[1], autogenerate=True)
        finally:
            engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
