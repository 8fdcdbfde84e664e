"""Children of ``manage.py run`` kept alive: a Celery worker that dies is started again, and said so.

The web process and beat are plain children (one that stops stops the run, as before); the worker
is supervised: after ``kill -9``, an out-of-memory kill or kombu's unrecoverable error it is
restarted with a growing pause (1, 2, 4 … 30 s, back to 1 s once it stayed up for a minute), and
each restart is logged with the exit code. The tasks it held go back to the queue by themselves
(late acks, ``task_reject_on_worker_lost``, the broker's visibility timeout).
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.conf import settings

logger = logging.getLogger("config.supervision")

STAYED_UP_SECONDS = 60.0
MAX_PAUSE_SECONDS = 30.0


def worker_queues() -> list[str]:
    """Every queue of ours, as the settings declare them: the call path and the background."""
    return [queue.name for queue in settings.CELERY_TASK_QUEUES]


def nobody_waits_on(name: str) -> bool:
    """Whether the child ``name`` of ``manage.py run`` serves no one who waits on its answer:
    Twilio's callbacks (hooks), the background queue's worker, beat."""
    return name in {"hooks", "beat", f"w-{settings.CELERY_BACKGROUND_QUEUE}"}


def at_priority(name: str, command: list[str]) -> list[str]:
    """``command`` as the child ``name`` runs: at ``BACKGROUND_NICENESS`` (coreutils' ``nice``;
    its threads and children inherit it) when nobody waits on it, else as it is.

    Measured at 1,000 operators and 20 calls/s on a 2-core box nine-tenths busy, six runs at 2
    each next to one at 0: the offer's 95th percentile shorter in all six (92-111 ms against
    96-172), its 99th in four; Twilio's callbacks then waited 0.4-2.2 s at their 99th (0.2-1.3 s
    at 0). At 5 the offer gained a little more and the callbacks waited up to 8 s. On a box past
    full they wait 14-15 s whatever the niceness. docs/scale.md §4."""
    niceness = settings.BACKGROUND_NICENESS
    if not niceness or not nobody_waits_on(name):
        return command
    return ["nice", "-n", str(niceness), *command]


def web_command(python: str, host: str, port: int, *, processes: int = 0) -> list[str]:
    """A web process: uvicorn running ``config.asgi`` (``processes`` of it, else ``WEB_CONCURRENCY``)."""
    command = [python, "-m", "uvicorn", "config.asgi:application", "--host", host, "--port", str(port),
               "--no-access-log", "--lifespan", "off"]  # fmt: skip
    return [*command, "--workers", str(processes)] if processes else command


def wsgi_command(python: str, host: str, port: int, *, threads: int = 0) -> list[str]:
    """A process for Twilio's webhooks only: granian's WSGI server running ``config.wsgi`` on
    ``threads`` threads (else ``WEBHOOK_THREADS``), no WebSockets (docs/scale.md §4)."""
    return [python, "-m", "granian", "--interface", "wsgi", "--host", host, "--port", str(port),
            "--workers", "1", "--blocking-threads", str(threads or settings.WEBHOOK_THREADS), "--http", "1",
            "--no-ws", "--no-access-log", "--log-level", "warning", "config.wsgi:application"]  # fmt: skip


def worker_command(
    python: str, *, concurrency: int = 2, extra: Sequence[str] = (), queues: Sequence[str] | None = None
) -> list[str]:
    """The Celery worker's command line, with the broadcast features that crash on reconnect off,
    consuming ``queues`` (all of them by default)."""
    queues = ",".join(queues or worker_queues())
    return [python, "-m", "celery", "-A", "config", "worker", "-l", "INFO", "--concurrency", str(concurrency),
            "-Q", queues, *settings.CELERY_WORKER_FLAGS, *extra]  # fmt: skip


@dataclass
class Supervised:
    """One child restarted whenever it exits; ``start`` makes a new process."""

    name: str
    start: Callable[[], subprocess.Popen]
    on_restart: Callable[[str], None] = lambda message: None
    process: subprocess.Popen | None = None
    restarts: int = 0
    started_at: float = 0.0
    pause: float = 1.0
    due: float | None = None
    history: list[int] = field(default_factory=list)

    def launch(self) -> subprocess.Popen:
        self.process, self.started_at, self.due = self.start(), time.monotonic(), None
        return self.process

    def check(self, now: float | None = None) -> bool:
        """Restart the child if it exited (after its pause); True when it was restarted just now."""
        now = time.monotonic() if now is None else now
        if self.process is None:
            self.launch()
            return False
        code = self.process.poll()
        if code is None:
            if now - self.started_at >= STAYED_UP_SECONDS:
                self.pause = 1.0
            return False
        if self.due is None:
            self.history.append(code)
            self.due = now + self.pause
            message = f"{self.name} exited with code {code}; restarting it in {self.pause:.0f} s"
            logger.error(message)
            self.on_restart(message)
            self.pause = min(MAX_PAUSE_SECONDS, self.pause * 2)
            return False
        if now < self.due:
            return False
        self.restarts += 1
        self.launch()
        message = f"{self.name} restarted (restart #{self.restarts}, pid {self.process.pid})"
        logger.warning(message)
        self.on_restart(message)
        return True
