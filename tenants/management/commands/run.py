"""``python manage.py run``: the whole product in the foreground (web, a Celery worker per queue,
beat); Ctrl-C stops it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from config import embedded
from config.supervision import (
    Supervised,
    at_priority,
    web_command,
    worker_command,
    worker_queues,
    wsgi_command,
)
from telephony.simulator.profiles import named
from telephony.urls import callback_paths, caller_wait_paths
from tenants.management.commands.demo import describe

DEMO_OPERATORS = 6  # simulated operators answering the demo's live traffic


def _pump(name: str, stream, out) -> None:
    for line in iter(stream.readline, ""):
        out.write(f"{name:>6} | {line}")
        out.flush()


class Command(BaseCommand):
    help = (
        "Migrate, create the demo, then run web (ASGI), a Celery worker per queue and beat (and simulated "
        "calls in development) until Ctrl-C."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-demo", action="store_true")
        parser.add_argument(
            "--traffic",
            type=float,
            default=None,
            help="simulated calls per second to the demo companies, answered by simulated operators "
            "(default: a working day's, minutes-long calls keeping the operators ~85%% busy; 0 for none; "
            "never in production: Twilio's REST API is then played by the simulator)",
        )
        parser.add_argument("--simulator-port", type=int, default=8765)
        parser.add_argument(
            "--voice-port",
            type=int,
            default=0,
            help="also run a voice process on this port, for the webhooks a caller waits on "
            "(telephony.urls.CALLER_WAITS): a proxy in front routes them there (docs/scale.md §4); "
            "the simulated calls are sent there directly",
        )
        parser.add_argument(
            "--hooks-port",
            type=int,
            default=0,
            help="also run a hooks process on this port, for Twilio's callbacks nobody waits on "
            "(telephony.urls.CALLBACKS): a proxy in front routes them there (docs/scale.md §4)",
        )

    def handle(self, *args, **options) -> None:
        call_command("migrate_schemas", executor="multiprocessing", interactive=False, verbosity=0)
        if not options["no_demo"]:
            call_command("demo", verbosity=0)
        traffic = options["traffic"] if not settings.PRODUCTION and not options["no_demo"] else 0
        traffic = named("working-day").rate_for(DEMO_OPERATORS) if traffic is None else traffic
        env = self._child_env(options, traffic)
        python = sys.executable
        # A worker per Celery queue (issue 23): the call path's never waits behind statistics.
        workers = {
            f"w-{queue}": worker_command(python, queues=[queue], extra=["-n", f"{queue}@%h"])
            for queue in worker_queues()
        }
        commands = {
            "web": web_command(python, options["host"], options["port"]),
            **workers,
            "beat": [python, "-m", "celery", "-A", "config", "beat", "-l", "INFO",
                     "--schedule", str(embedded.data_dir() / "celerybeat-schedule")],
        }  # fmt: skip
        # Twilio's webhooks away from the consoles, on WSGI processes (issue 23, docs/scale.md §4).
        for name in ("voice", "hooks"):
            if options[f"{name}_port"]:
                commands[name] = wsgi_command(python, options["host"], options[f"{name}_port"])
        if traffic:
            commands["calls"] = [
                python, "manage.py", "simulate", "--forever", "--profile", "working-day",
                "--rate", str(traffic), "--operators", str(DEMO_OPERATORS),
                "--url", f"http://{settings.PLATFORM_HOST}:{options['port']}",
                "--connect", f"127.0.0.1:{options['port']}", "--rest-port", str(options["simulator_port"]),
            ]  # fmt: skip
            for name in ("voice", "hooks"):
                if options[f"{name}_port"]:
                    commands["calls"] += [f"--{name}-connect", f"127.0.0.1:{options[f'{name}_port']}"]
        children: dict[str, subprocess.Popen] = {}

        def start(name: str) -> subprocess.Popen:
            child = subprocess.Popen(
                at_priority(name, commands[name]), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                text=True, cwd=settings.BASE_DIR, start_new_session=True,
            )  # fmt: skip
            threading.Thread(target=_pump, args=(name, child.stdout, self.stdout), daemon=True).start()
            children[name] = child
            return child

        # The workers are supervised (config/supervision.py): one that dies is started again, and logged.
        supervised = {
            name: Supervised(name, lambda name=name: start(name), on_restart=lambda m: self.stderr.write(m))
            for name in workers
        }
        for name in commands:
            supervised[name].launch() if name in supervised else start(name)
        self.stdout.write(self.style.SUCCESS("\nThe platform is starting. Press Ctrl-C to stop.\n"))
        self.stdout.write(describe(port=options["port"]) + "\n")
        if options["voice_port"]:
            self.stdout.write(
                f"Voice (the webhooks a caller waits on): port {options['voice_port']}; route "
                f"{', '.join(caller_wait_paths())} there from your proxy\n"
            )
        if options["hooks_port"]:
            self.stdout.write(
                f"Hooks (Twilio's callbacks): port {options['hooks_port']}; route "
                f"{', '.join(callback_paths())} there from your proxy\n"
            )
        stopping = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopping.set())
        try:
            while not stopping.is_set():
                for worker in supervised.values():
                    worker.check()
                dead = [
                    n for n, child in children.items() if n not in supervised and child.poll() is not None
                ]
                if dead:
                    self.stderr.write(f"{', '.join(dead)} stopped on its own; stopping the rest.")
                    break
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        self._stop(children)

    def _child_env(self, options: dict, traffic: float) -> dict[str, str]:
        """Children read the same environment; without URLs they attach to the embedded servers.

        With simulated traffic, Twilio's REST API is the simulator's and webhooks are signed for
        the local URL.
        """
        env = dict(os.environ)
        env.setdefault("DJANGO_ENV", settings.DJANGO_ENV)
        if traffic:
            env["TWILIO_API_BASE_URL"] = f"http://127.0.0.1:{options['simulator_port']}"
            env["TWILIO_WEBHOOK_BASE_URL"] = f"http://{settings.PLATFORM_HOST}:{options['port']}"
        return env

    def _stop(self, children: dict[str, subprocess.Popen]) -> None:
        self.stdout.write("\nStopping " + ", ".join(children) + "…")
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for child in children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        stopped = embedded.stop(only=frozenset(embedded.started_here)) if embedded.started_here else []
        if stopped:
            self.stdout.write(f"Stopped the embedded {' and '.join(stopped)}.")
        self.stdout.write(self.style.SUCCESS("Stopped cleanly."))
