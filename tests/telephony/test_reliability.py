"""Issue 22: Celery configured for failure, offers expired by whoever looks, presence by heartbeat."""

from __future__ import annotations

import datetime as dt
import logging
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.utils import timezone

from config.celery import app
from config.supervision import Supervised, worker_command
from console import consumers, floor
from telephony import console_presence, reliability, routing
from telephony.answering import accept_offer
from telephony.models import OperatorProfile, Reservation, WaitingCall
from tests.conftest import run_async
from tests.telephony.helpers import make_operator, make_queue, sid

# 1. Celery configured for failure -------------------------------------------------------------


def test_the_worker_runs_without_the_broadcast_channels_that_crash_on_a_broker_reconnect():
    command = worker_command("python")
    assert {"--without-gossip", "--without-mingle", "--without-heartbeat"} <= set(command)
    assert app.conf.worker_enable_remote_control is False


def test_a_task_held_by_a_dead_worker_comes_back_within_minutes_not_hours():
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert settings.CELERY_TASK_TIME_LIMIT < visibility <= settings.CELERY_TASK_TIME_LIMIT + 120
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
    assert app.conf.task_publish_retry and app.conf.task_publish_retry_policy["max_retries"] >= 5
    assert app.conf.broker_connection_max_retries is None


def test_ticks_and_periodic_work_expire_instead_of_running_late_all_at_once():
    names = ["telephony.tasks.routing_tick", "outbound.tasks.dial_tick"]
    for name in [*names, "telephony.reliability.sweep_presence", "telephony.reliability.reconcile_calls"]:
        task = app.tasks[name]
        assert task.expires and task.expires <= 60, name
    assert reliability.sweep_presence.expires == 10  # (imported: the worker imports it by CELERY_IMPORTS)
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"telephony.reliability.sweep_presence", "telephony.reliability.reconcile_calls"} <= scheduled


def test_beat_sends_each_tick_with_its_expiry(monkeypatch):
    """What beat publishes, not only the task's attribute: a tick that waited in the queue past
    its expiry is dropped by the worker, never run late."""
    from celery.beat import ScheduleEntry, Scheduler

    app.loader.import_default_modules()  # as beat does at start
    sent: dict[str, dict] = {}
    monkeypatch.setattr(
        app.amqp,
        "send_task_message",
        lambda producer, name, message, **kw: sent.update({name: message.headers}),
    )
    scheduler = Scheduler(app, schedule={}, lazy=True)
    for name in [
        "telephony.tasks.routing_tick",
        "outbound.tasks.dial_tick",
        "telephony.reliability.sweep_presence",
    ]:
        entry = ScheduleEntry(name=name, task=name, schedule=dt.timedelta(seconds=2), app=app)
        before = timezone.now()
        scheduler.apply_async(entry, advance=False)
        expires = dt.datetime.fromisoformat(sent[name]["expires"])  # (None: no expiry, never dropped)
        assert before < expires <= timezone.now() + dt.timedelta(seconds=10), name


def test_a_send_whose_broker_stays_away_is_given_up_at_once_after_celerys_own_retries(
    db, tenants, broken_publish, caplog
):
    """kombu's OperationalError: Celery retried the connection for ~10 s already. Trying again
    would hold the request past Twilio's 15-s timeout; kombu's own bugs are tried again."""
    from kombu.exceptions import OperationalError

    from config.celery import SEND_PAUSES, send_after_commit
    from telephony.tasks import match_queues

    broken_publish.error = OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
    assert send_after_commit(match_queues, [1]) is False
    assert broken_publish.tries == 1 and "match_queues([1],) could not be sent" in caplog.text
    broken_publish.error, broken_publish.tries = AttributeError("kombu"), 0
    assert send_after_commit(match_queues, [1]) is False
    assert broken_publish.tries == len(SEND_PAUSES) + 1


def test_a_send_with_arguments_json_cannot_carry_is_the_callers_bug_and_raises(db, tenants):
    from kombu.exceptions import EncodeError

    from config.celery import send_after_commit
    from telephony.tasks import match_queues

    with pytest.raises(EncodeError):
        send_after_commit(match_queues, {object()})


def test_a_worker_that_dies_is_restarted_and_the_restart_is_logged(caplog):
    said: list[str] = []
    started: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        started.append(subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(3)"]))
        return started[-1]

    worker = Supervised("worker", start, on_restart=said.append)
    worker.launch()
    started[0].wait(timeout=10)
    with caplog.at_level(logging.WARNING, logger="config.supervision"):
        now = time.monotonic()
        assert worker.check(now) is False  # seen dead: restart due after the pause
        assert worker.check(now + 0.5) is False
        assert worker.check(now + 1.1) is True
    assert len(started) == 2 and worker.restarts == 1 and worker.history == [3]
    assert "exited with code 3" in said[0] and "restarted" in said[1]
    assert "exited with code 3" in caplog.text
    started[1].wait(timeout=10)
    worker.check(now + 2)
    assert worker.pause == 4.0  # the pause doubles while it keeps dying


def _offer_past_its_deadline(tenants, capture):
    queue = make_queue(tenants.alpha)
    first = make_operator({queue: 1}, idle=0)
    second = make_operator({queue: 1}, idle=10)
    with capture(execute=True):
        call = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid())
    offer = Reservation.objects.get(call=call, state="offered")
    assert offer.operator_id == first.pk
    now = timezone.now()
    Reservation.objects.filter(pk=offer.pk).update(
        offered_at=now - dt.timedelta(seconds=30), expires_at=now - dt.timedelta(seconds=1)
    )
    return call, offer, first, second


def test_an_offer_past_its_deadline_cannot_be_accepted_even_when_no_tick_ran(
    db, tenants, django_capture_on_commit_callbacks
):
    call, offer, first, second = _offer_past_its_deadline(tenants, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValueError, match="expired"):
        routing.accept(reservation_id=offer.pk, operator=first.user)
    assert Reservation.objects.get(pk=offer.pk).state == "expired"
    assert Reservation.objects.get(call=call, state="offered").operator_id == second.pk


def test_an_operator_who_answers_too_late_leaves_the_offer_expired_and_passed_on(
    db, tenants, django_capture_on_commit_callbacks
):
    """The console's accept (``accept_offer``) is refused, and the expiry it found stays: the
    call is offered to the next operator at once, not when someone next looks."""
    call, offer, first, second = _offer_past_its_deadline(tenants, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValueError, match="expired"):
        accept_offer(reservation_id=offer.pk, operator=first.user)
    assert Reservation.objects.get(pk=offer.pk).state == "expired"
    assert Reservation.objects.get(call=call, state="offered").operator_id == second.pk


def test_a_console_that_opens_expires_its_overdue_offer_instead_of_showing_it(
    db, tenants, django_capture_on_commit_callbacks
):
    call, offer, first, second = _offer_past_its_deadline(tenants, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        profile_id, messages = consumers._open(first.user)
    assert profile_id == first.pk
    assert [m["type"] for m in messages] == ["state"] and messages[0]["state"] == "available"
    assert Reservation.objects.get(pk=offer.pk).state == "expired"
    assert Reservation.objects.get(call=call, state="offered").operator_id == second.pk


def test_a_console_whose_offer_is_due_has_its_operators_overdue_offer_expired(
    db, tenants, django_capture_on_commit_callbacks
):
    _call, offer, first, _second = _offer_past_its_deadline(tenants, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        assert floor.expire_own(first.pk) == 1
    assert Reservation.objects.get(pk=offer.pk).state == "expired"


def test_the_process_look_of_any_console_expires_an_offer_whose_push_was_lost(
    db, tenants, django_capture_on_commit_callbacks
):
    """The offered operator's console never heard of the offer: the process's look expires it; the
    look for another console's own offers does not."""
    _call, offer, _first, second = _offer_past_its_deadline(tenants, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        assert floor.expire_own(second.pk) == 0
    assert Reservation.objects.get(pk=offer.pk).state == "offered"  # only its own operator's
    with django_capture_on_commit_callbacks(execute=True):
        assert floor.expire_lost() == 1
    assert Reservation.objects.get(pk=offer.pk).state == "expired"


# 4. Operators' presence by heartbeat -----------------------------------------------------------


def test_an_operator_whose_consoles_stopped_beating_goes_offline_and_the_offer_is_rerouted(
    db, tenants, presence, django_capture_on_commit_callbacks
):
    """Whatever crashed (the web process, the socket, Redis): no beat for N seconds = offline."""
    queue = make_queue(tenants.alpha)
    crashed = make_operator({queue: 1}, idle=0)
    alive = make_operator({queue: 1}, idle=10)
    on_call = make_operator({}, state="on_call")
    WaitingCall.objects.create(  # their call goes on (an operator on call with no call goes offline)
        tenant=tenants.alpha, queue=make_queue(tenants.alpha), call_sid=sid(), enqueued_at=timezone.now(),
        state="bridged", answered_at=timezone.now(), operator=on_call,
    )  # fmt: skip
    t0 = time.time()
    console_presence.beat(operator_id=crashed.pk, channel="c1", node="web-1", now=t0)
    with django_capture_on_commit_callbacks(execute=True):
        call = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid())
    assert Reservation.objects.get(call=call, state="offered").operator_id == crashed.pk
    later = t0 + console_presence.PRESENCE_SECONDS + 1
    console_presence.beat(operator_id=alive.pk, channel="c2", node="web-2", now=later - 1)
    with django_capture_on_commit_callbacks(execute=True):
        gone = console_presence.sweep(now=later)
    assert crashed.pk in gone and alive.pk not in gone and on_call.pk not in gone
    assert OperatorProfile.objects.get(pk=crashed.pk).state == "offline"
    assert OperatorProfile.objects.get(pk=on_call.pk).state == "on_call"  # their call is still live
    assert Reservation.objects.get(call=call, state="offered").operator_id == alive.pk
    assert WaitingCall.objects.get(pk=call.pk).reservation_count == 2


def test_a_redis_that_restarted_empty_does_not_log_everybody_out(db, tenants, presence):
    operator = make_operator({})
    assert console_presence.sweep(now=time.time()) == []  # no beat seen since Redis started
    console_presence.beat(operator_id=make_operator({}).pk, channel="c", node="n")
    assert console_presence.sweep() == []  # the set is younger than the presence window
    assert OperatorProfile.objects.get(pk=operator.pk).state == "available"


def test_a_console_beats_from_its_event_loop_as_from_a_thread(presence):
    """A process's beat of its sockets (``abeat``, on the loop with the loop's own client) writes for
    each what ``beat`` does; each loop has its own client (an asyncio client cannot serve another
    loop)."""
    assert run_async(console_presence.abeat([(7, "tab"), (6, "tab2")], node="web-1", now=1000.0))
    assert run_async(console_presence.abeat([(8, "tab")], node="web-1"))
    assert run_async(console_presence.abeat([], node="web-1"))  # nobody at a console: nothing sent
    console_presence.beat(operator_id=9, channel="tab", node="web-1", now=1000.0)
    assert presence.zscore(console_presence.KEY, "7|web-1|tab") == 1000.0
    assert presence.zscore(console_presence.KEY, "6|web-1|tab2") == 1000.0
    until = presence.hmget(console_presence.UNTIL_KEY, ["6", "7", "9"])
    assert until[0] == until[1] == until[2]
    assert console_presence.live_operators() == {8}  # 6, 7 and 9 beat long ago


def test_a_console_beat_with_redis_away_is_skipped_not_raised(presence, settings):
    settings.CONSOLE_PRESENCE_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    assert run_async(console_presence.abeat([(7, "tab")], node="web-1")) is False


def test_a_node_that_starts_forgets_the_consoles_it_held(db, presence):
    console_presence.beat(operator_id=1, channel="a", node="web-1")
    console_presence.beat(operator_id=2, channel="b", node="web-2")
    assert console_presence.forget_node("web-1") == 1
    assert console_presence.live_operators() == {2}


def test_closing_one_of_two_consoles_keeps_the_operator(db, tenants, presence):
    operator = make_operator({})
    console_presence.beat(operator_id=operator.pk, channel="tab-1", node="n")
    console_presence.beat(operator_id=operator.pk, channel="tab-2", node="n")
    assert console_presence.leave(operator_id=operator.pk, channel="tab-1", node="n") is False
    assert console_presence.leave(operator_id=operator.pk, channel="tab-2", node="n") is True
