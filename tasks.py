"""The task queue (Huey): the one ``huey`` of the portal, its storage named by ``QUEUE_URL``.

A task is work done later by ``flask --app app worker`` (the Huey consumer), never
inside a web request: delivering the outbox (mail.py), and the periodic rules of
mail_rules.py. Tasks are declared with ``@tasks.task()`` and
``@tasks.periodic_task(crontab(...))`` below: like Huey's own decorators, but each run
gets the application context and a database connection of its worker thread.

``QUEUE_URL``:

- ``sqlite:///path/queue.db`` (the default, under ``instance/``): one machine;
- ``redis://host:port/n``: several machines share the queue;
- ``postgresql://...``: the queue's four tables (huey's ``kv``, ``schedule``, ``task``,
  ``counter``) in that database, made by ``flask --app app migrate`` (the runtime role may
  not create tables), see ``create_queue_tables``;
- ``memory://``: this process only (the tests; a task enqueued is run only if asked).

Nothing is lost when the queue is: the outbox lives in the portal's database and a
periodic sweep delivers whatever is due, so the queue only makes mail go sooner.
"""

from __future__ import annotations

import functools
import importlib
from contextlib import ExitStack
from urllib.parse import unquote, urlparse

from flask import Flask, current_app, has_app_context
from huey import Huey, crontab  # noqa: F401 (crontab: for declaring periodic tasks)
from huey.storage import MemoryStorage, RedisStorage, SqliteStorage

import models

QUEUE_NAME = "portal"
QUEUE_SCHEMES = ("sqlite", "redis", "rediss", "unix", "postgres", "postgresql", "memory")

# The modules declaring tasks: the worker imports them so that each task is known to the
# consumer by name (a module of a feature adds itself here).
TASK_MODULES = ["mail", "mail_rules", "import_uploads", "consent_lifetime"]

huey = Huey(QUEUE_NAME, results=False, storage_class=MemoryStorage)

# The application the tasks run in: set by init_app (the web process and the worker
# build it with create_app; a task enqueued by one runs in the other).
_app: Flask | None = None


class QueueSettingsError(ValueError):
    """QUEUE_URL names no queue storage the portal knows."""


def storage_for(url: str):
    """Build the Huey storage named by ``url`` (see the module's docstring)."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        return SqliteStorage(QUEUE_NAME, filename=unquote(url[len("sqlite:///"):]))
    if parsed.scheme in ("redis", "rediss", "unix"):
        return RedisStorage(QUEUE_NAME, url=url)
    if parsed.scheme in ("postgres", "postgresql"):
        from huey.contrib.sql_huey import SqlStorage

        return SqlStorage(QUEUE_NAME, database=models.make_database(url), create_tables=False)
    if parsed.scheme == "memory":
        return MemoryStorage(QUEUE_NAME)
    raise QueueSettingsError(
        f"QUEUE_URL non valida: {url!r} (sqlite:///..., redis://..., postgresql://... "
        "oppure memory://)")


def create_queue_tables(url: str) -> bool:
    """Create the PostgreSQL queue's tables at ``url`` (as a role that may); tell if it did."""
    if urlparse(url).scheme not in ("postgres", "postgresql"):
        return False
    from huey.contrib.sql_huey import SqlStorage

    database = models.make_database(url)
    try:
        SqlStorage(QUEUE_NAME, database=database, create_tables=True)
    finally:
        database.close_all()
    return True


def init_app(app: Flask) -> None:
    """Bind the queue to ``app``'s QUEUE_URL and run every task in ``app``."""
    global _app
    _app = app
    huey.storage = storage_for(app.config["QUEUE_URL"])


def import_task_modules() -> None:
    """Import every module declaring tasks (those not in this checkout are skipped)."""
    for name in TASK_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as missing:
            if missing.name != name:
                raise


def _in_app(function):
    """Run ``function`` with the application context and a database connection."""

    @functools.wraps(function)
    def run(*args, **kwargs):
        with ExitStack() as stack:
            if not has_app_context() and _app is not None:
                stack.enter_context(_app.app_context())
            if models.db.is_closed():  # a connection already open (immediate mode) is kept
                stack.enter_context(models.db.connection_context())
            return function(*args, **kwargs)

    return run


def task(**options):
    """Declare a task: ``@tasks.task()``, then ``function()`` enqueues it (Huey's ``task``)."""

    def decorate(function):
        return huey.task(**options)(_in_app(function))

    return decorate


def periodic_task(schedule, **options):
    """Declare a periodic task run by the worker: ``@tasks.periodic_task(crontab(minute="*"))``.

    The schedule is read in UTC (huey's default): ``crontab(hour="6", minute="0")`` is
    06:00 UTC.
    """

    def decorate(function):
        return huey.periodic_task(schedule, **options)(_in_app(function))

    return decorate


def app_config(name: str):
    """A setting of the application the task runs in."""
    return current_app.config[name]
