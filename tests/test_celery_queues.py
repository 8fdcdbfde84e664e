"""Celery queues by urgency (issue 23): the call path never waits behind background work."""

from __future__ import annotations

from config.celery import app
from config.supervision import worker_command, worker_queues

CALL_PATH = {
    "telephony.tasks.bridge_call",
    "telephony.tasks.routing_tick",
    "telephony.tasks.match_queues",
    "telephony.tasks.dial_back",
    "telephony.tasks.announce_to_operator",
    "telephony.tasks.release_caller",
    "outbound.tasks.dial_tick",
    "outbound.tasks.dial_for_operators",
}
BACKGROUND = {
    "reporting.tasks.dispatch_statistics",
    "reporting.tasks.build_recent_statistics",
    "reporting.tasks.deliver_webhook",
    "reporting.tasks.dispatch_webhook_retries",
    "telephony.reliability.reconcile_calls",
    "telephony.tasks.store_recording",
    "telephony.tasks.purge_recordings",
    "operations.tasks.certifications_expire",
}
APPS = (
    "accounts.",
    "tenants.",
    "telephony.",
    "outbound.",
    "reporting.",
    "quality.",
    "console.",
    "operations.",
)


def queue_of(name: str) -> str:
    return app.amqp.router.route({}, name)["queue"].name


def test_the_call_path_and_the_background_go_to_their_own_queues():
    app.loader.import_default_modules()
    assert {queue_of(name) for name in CALL_PATH} == {"call"}
    assert {queue_of(name) for name in BACKGROUND} == {"background"}


def test_every_task_of_ours_is_on_one_of_the_two_queues_and_only_the_listed_ones_on_the_call_path():
    app.loader.import_default_modules()
    ours = [name for name in app.tasks if name.startswith(APPS)]
    assert len(ours) >= len(CALL_PATH | BACKGROUND)
    queues = {name: queue_of(name) for name in ours}
    assert set(queues.values()) == {"call", "background"}
    assert {name for name, queue in queues.items() if queue == "call"} == CALL_PATH | {
        "telephony.reliability.sweep_presence"  # operators' consoles gone: their offers re-routed
    }


def test_a_worker_per_queue_or_one_for_both():
    assert worker_queues() == ["call", "background"]
    both = worker_command("python")
    assert both[both.index("-Q") + 1] == "call,background"
    call_only = worker_command("python", queues=["call"])
    assert call_only[call_only.index("-Q") + 1] == "call"


def test_a_worker_started_without_queues_named_consumes_both():
    """README's ``celery -A config worker``: Celery's default would be the default queue alone
    (background), and no call would ever be bridged."""
    declared = app.amqp.Queues(app.conf.task_queues)  # as a worker without ``-Q`` builds them
    assert set(declared.consume_from) == {"call", "background"}
