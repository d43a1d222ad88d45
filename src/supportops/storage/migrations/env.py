"""Alembic environment: runs on the connection handed in by ``Database.migrate``.

No live metadata is imported: the revisions are frozen history that define their own tables,
and ``tests/test_house.py`` compares what they build with the rooms' live tables.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection,
                  version_table=context.config.attributes["version_table"])
with context.begin_transaction():
    context.run_migrations()
