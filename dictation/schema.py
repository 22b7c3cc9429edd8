"""Every table of the service on one SQLAlchemy metadata, for what creates or compares the
schema: the migrations (`dictation.migrations`), and `create_all` in tests and benchmarks.

The core tables are in `dictation.models`; a feature package keeps its own tables beside its code
(`dictation.learning.tables`) and is listed here, so that models.py imports no feature package.
Importing a table module registers its tables on `Base.metadata`; importing this one registers
them all."""

from __future__ import annotations

from dictation import models
from dictation.db import Base
from dictation.learning import tables as learning_tables

# The modules whose tables `metadata` holds.
TABLE_MODULES = (models, learning_tables)
metadata = Base.metadata
