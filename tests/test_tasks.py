"""The task queue (tasks.py): its storage named by QUEUE_URL, tasks run in the application."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import TEST_DATABASE_URL

import mail
import models
import tasks


@pytest.fixture
def queue(app):
    """Restore the test queue (memory://) after a test that points the app elsewhere."""
    yield
    app.config["QUEUE_URL"] = "memory://"
    tasks.init_app(app)


def test_a_wake_is_a_task_in_the_sqlite_queue(app, tmp_path, queue):
    app.config["QUEUE_URL"] = f"sqlite:///{tmp_path / 'queue.db'}"
    tasks.init_app(app)
    with app.app_context():
        mail.wake()
        mail.wake()
    assert tasks.huey.pending_count() == 2
    assert {t.name for t in tasks.huey.pending()} == {"deliver"}
    assert (tmp_path / "queue.db").exists()


def test_an_unknown_queue_is_refused():
    with pytest.raises(tasks.QueueSettingsError):
        tasks.storage_for("amqp://coda")


def test_a_task_runs_with_the_app_and_a_connection(app):
    seen = {}

    @tasks.task()
    def probe():
        from flask import current_app

        seen["app"] = current_app.name
        seen["db"] = models.db.execute_sql("SELECT 1").fetchone()[0]

    tasks.huey.immediate = True
    try:
        probe()  # outside any app context, as in the worker's threads
    finally:
        tasks.huey.immediate = False
    assert seen == {"app": "app", "db": 1}


def test_the_sweep_runs_every_minute():
    tasks.import_task_modules()
    for minute in (0, 1, 37):
        due = tasks.huey.read_periodic(dt.datetime(2026, 11, 30, 12, minute))
        assert "sweep" in {task.name for task in due}


@pytest.mark.skipif(not TEST_DATABASE_URL.startswith("postgres"), reason="PostgreSQL queue")
def test_a_postgresql_queue_is_made_by_migrate_and_used_by_the_runtime_role(app, queue):
    app.config["QUEUE_URL"] = app.config["DATABASE_URL"]
    result = app.test_cli_runner().invoke(args=["migrate"])
    assert result.exit_code == 0, result.output
    assert "Coda dei lavori su PostgreSQL: tabelle presenti." in result.output
    tasks.init_app(app)
    with app.app_context():
        mail.wake()
    assert tasks.huey.pending_count() == 1
    assert tasks.huey.dequeue().name == "deliver"
