"""Celery beat's scheduler: django-celery-beat's, asking the database less often whether a
schedule changed.

``DatabaseScheduler`` asks on every look at its schedule, several times a tick: with the 2-s
routing and dialer ticks that was 10 to 15 queries a second, each on a connection taken from the
pool again (a ``SET search_path`` each), the platform's largest source of statements with nobody
calling (issue 23). Here it asks at most every ``CHECK_SECONDS``: a schedule changed in the admin
takes effect within that, and django-celery-beat's own full re-read every 5 minutes stays.
"""

from __future__ import annotations

import time
from typing import Any

from django_celery_beat.schedulers import DatabaseScheduler

CHECK_SECONDS = 5.0


class Scheduler(DatabaseScheduler):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.changes_checked_at = float("-inf")
        super().__init__(*args, **kwargs)

    def schedule_changed(self) -> bool:
        now = time.monotonic()
        if now - self.changes_checked_at < CHECK_SECONDS:
            return False
        self.changes_checked_at = now
        return super().schedule_changed()
