"""Beat asks the database whether a schedule changed at most every few seconds, not on every look
at its schedule (issue 23: 10 to 15 queries a second with nobody calling), and still sees a change.

django-celery-beat's own check closes the thread's connections (the test's transaction with them),
so here it is counted, not run."""

from __future__ import annotations

from django_celery_beat.schedulers import DatabaseScheduler

from config import beat
from config.celery import app


def test_beat_asks_whether_schedules_changed_at_most_every_few_seconds(db, monkeypatch):
    clock, asked, changed = [1000.0], [], [False]
    monkeypatch.setattr(beat.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(DatabaseScheduler, "schedule_changed", lambda self: asked.append(1) or changed[0])
    scheduler = beat.Scheduler(app=app, lazy=True)
    assert not scheduler.schedule_changed()
    clock[0] += beat.CHECK_SECONDS - 0.1
    assert not scheduler.schedule_changed()  # too soon: not asked
    assert len(asked) == 1

    changed[0] = True  # a schedule changed (the admin, a migration)
    clock[0] += 0.1
    assert scheduler.schedule_changed() and len(asked) == 2
    assert not scheduler.schedule_changed() and len(asked) == 2
