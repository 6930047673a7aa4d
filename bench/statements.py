"""Counting the SQL statements peewee sends: one counter for the tests and the bench.

peewee logs every statement it runs at DEBUG on the ``peewee`` logger; its pool logs
its own messages (a connection handed back, a new one opened) on ``peewee.pool``,
which propagate to the same handler. The tests' limits were written counting both,
so that stays the default; the bench reports statements alone (``sql_only=True``).
This module imports nothing of the portal, so ``tests/conftest.py`` can import it.
"""

from __future__ import annotations

import contextlib
import logging


class StatementCounter(logging.Handler):
    """Collect what peewee logs at DEBUG: its statements, and unless ``sql_only`` its pool's messages."""

    def __init__(self, sql_only: bool = False):
        super().__init__(logging.DEBUG)
        self.sql_only = sql_only
        self.statements: list[str] = []

    def emit(self, record):
        if self.sql_only and record.name != "peewee":
            return
        sql = record.msg[0] if isinstance(record.msg, tuple) else str(record.msg)
        self.statements.append(sql)

    @property
    def count(self) -> int:
        return len(self.statements)


@contextlib.contextmanager
def counting_statements(sql_only: bool = False):
    """Count the statements run inside the block: ``with counting_statements() as c: ...; c.count``."""
    logger = logging.getLogger("peewee")
    counter = StatementCounter(sql_only)
    previous_level = logger.level
    logger.addHandler(counter)
    logger.setLevel(logging.DEBUG)
    try:
        yield counter
    finally:
        logger.removeHandler(counter)
        logger.setLevel(previous_level)
