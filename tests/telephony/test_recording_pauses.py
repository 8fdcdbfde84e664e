"""PCI pause: the call's recording paused and resumed through Twilio's recording update (validated
by Prism on Twilio's spec), by the call's operator, a supervisor, or a sensitive script step; every
pause closed by an event that says how, failures included."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from accounts.models import Role
from scripts_engine.models import Script, ScriptSession, ScriptVersion
from scripts_engine.sessions import session_start
from telephony import recording_pauses
from telephony.calls.models import Call, CallEvent, TelephonySettings
from telephony.models import Queue
from tests.conftest import logged_in, make_user
from tests.telephony.conference_kit import CONFERENCE_SID, conference_event, twilio_with_faults
from tests.telephony.helpers import make_operator
from tests.telephony.test_conferences import _connected, _specialist

# The caller moved from Twilio's queue into the conference on accept (``conftest``).
pytestmark = pytest.mark.usefixtures("caller_moved_on_accept")

RECORDING = f"/Conferences/{CONFERENCE_SID}/Recordings/Twilio.CURRENT.json"
JSON = "application/json"


@pytest.fixture
def queue(db, tenants) -> Queue:
    queue, _ = Queue.objects.get_or_create(tenant=tenants.alpha, is_default=True, defaults={"name": "Main"})
    return queue


@pytest.fixture
def recorded(db, tenants):
    with tenant_context(tenants.alpha):
        TelephonySettings.objects.update_or_create(pk=1, defaults={"record_calls": True})
    yield
    with tenant_context(tenants.alpha):
        TelephonySettings.objects.filter(pk=1).update(record_calls=False)


@pytest.fixture
def no_wait(monkeypatch):
    monkeypatch.setattr(recording_pauses, "RETRY_DELAYS", (0.0, 0.0))


def _events(tenants, sid: str, *kinds: str) -> list[CallEvent]:
    with tenant_context(tenants.alpha):
        return list(CallEvent.objects.filter(call__call_sid=sid, kind__in=kinds).order_by("at", "pk"))


def _updates(http) -> list:
    return [s for s in http.sent if s.url.endswith(RECORDING)]


def test_the_operator_pauses_and_resumes_the_recording_through_twilios_recording_update(
    db, tenants, queue, alpha_number, commit, bridges, twilio_mock, monkeypatch, recorded
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    sid, offer, _ = _connected(tenants, alpha_number, queue, commit, http)
    console = logged_in(None, offer.operator.user)
    url = f"/console/calls/{offer.pk}/recording"
    assert console.get(f"/console/calls/{offer.pk}").json()["recording"]["paused"] is False
    paused = console.post(url, {"on": True}, content_type=JSON)
    assert paused.status_code == 200, paused.content
    assert paused.json()["paused"] is True and paused.json()["paused_by"] == offer.operator.user.username
    sent = _updates(http)[-1]  # Prism validated it against Twilio's spec (a 422 otherwise)
    assert sent.method == "POST" and sent.data == {"Status": "paused", "PauseBehavior": "skip"}
    assert console.post(url, {"on": True}, content_type=JSON).json()["paused"] is True  # twice: once
    assert len(_updates(http)) == 1
    assert console.get(f"/console/calls/{offer.pk}").json()["recording"]["paused"] is True  # a reload
    resumed = console.post(url, {"on": False}, content_type=JSON)
    assert resumed.json()["paused"] is False and _updates(http)[-1].data == {"Status": "in-progress"}
    pause, resume = _events(tenants, sid, "recording_paused", "recording_resumed")
    assert pause.data["by"] == resume.data["by"] == offer.operator.user.username
    assert resume.data["seconds"] == pytest.approx((resume.at - pause.at).total_seconds(), abs=0.001)
    with tenant_context(tenants.alpha):
        call = Call.objects.get(call_sid=sid)
        (interval,) = recording_pauses.pause_intervals(call)
    assert interval.started_at == pause.at and interval.ended_at == resume.at
    assert interval.ended_by.startswith(f"resumed by {offer.operator.user.username}")
    # In the file from its start, the operator's join (the call's answer: the conference's start).
    assert interval.offset_seconds == round((pause.at - call.answered_at).total_seconds(), 3)
    with tenant_context(tenants.alpha):  # a call recorded before 2026-12-05 kept Twilio's start
        started = call.answered_at - dt.timedelta(seconds=2)
        CallEvent.objects.create(call=call, at=started, kind="conference:conference-start", data={})
        (interval,) = recording_pauses.pause_intervals(call)
    assert interval.offset_seconds == round((pause.at - started).total_seconds(), 3)


def test_429_5xx_and_timeouts_are_sent_again_and_unavailable_throughout_is_a_409_saying_not_paused(
    db, tenants, queue, alpha_number, commit, bridges, twilio_mock, monkeypatch, recorded, no_wait
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    sid, offer, _ = _connected(tenants, alpha_number, queue, commit, http)
    console = logged_in(None, offer.operator.user)
    url = f"/console/calls/{offer.pk}/recording"
    http.plan.script = ["429", "timeout"]
    assert console.post(url, {"on": True}, content_type=JSON).json()["paused"] is True
    assert [s.fault for s in _updates(http)] == ["429", "timeout", ""]
    http.plan.script = ["503", "500", "503"]
    refused = console.post(url, {"on": False}, content_type=JSON)
    assert refused.status_code == 409 and "try again" in refused.json()["error"]
    (failed,) = _events(tenants, sid, "recording_resume_failed")
    assert failed.data["by"] == offer.operator.user.username
    assert (
        console.get(f"/console/calls/{offer.pk}").json()["recording"]["paused"] is True
    )  # never resumed quietly
    assert console.post(url, {"on": False}, content_type=JSON).json()["paused"] is False  # Twilio is back
    http.plan.script = ["refused"]
    not_paused = console.post(url, {"on": True}, content_type=JSON)
    assert not_paused.status_code == 409 and "NOT paused" in not_paused.json()["error"]
    assert _events(tenants, sid, "recording_pause_failed")[-1].data["error"] == "refused"
    assert not _paused(tenants, sid)


def _paused(tenants, sid: str) -> bool:
    with tenant_context(tenants.alpha):
        return recording_pauses.is_paused(Call.objects.get(call_sid=sid))


def test_a_call_that_ends_while_paused_says_so_and_is_never_resumed(
    db, tenants, queue, alpha_number, commit, bridges, twilio_mock, monkeypatch, recorded
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    sid, offer, callback = _connected(tenants, alpha_number, queue, commit, http)
    console = logged_in(None, offer.operator.user)
    assert (
        console.post(f"/console/calls/{offer.pk}/recording", {"on": True}, content_type=JSON).status_code
        == 200
    )
    for _ in range(2):  # a replayed callback closes it once
        with commit():
            conference_event(
                callback,
                "conference-end",
                ReasonConferenceEnded="participant-with-end-conference-on-exit-left",
            )
    (closed,) = _events(tenants, sid, "recording_pause_closed")
    assert "ended while the recording was paused" in closed.data["reason"]
    assert closed.data["paused_by"] == offer.operator.user.username and closed.data["seconds"] >= 0
    assert not _events(tenants, sid, "recording_resumed")
    assert [s.data["Status"] for s in _updates(http)] == ["paused"]  # nothing sent to resume it


def test_a_transfer_while_paused_keeps_the_pause_and_says_so(
    db, tenants, queue, alpha_number, commit, bridges, twilio_mock, monkeypatch, recorded
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    sid, offer, callback = _connected(tenants, alpha_number, queue, commit, http)
    _specialist(tenants)
    console = logged_in(None, offer.operator.user)
    console.post(f"/console/calls/{offer.pk}/recording", {"on": True}, content_type=JSON)
    console.post(
        f"/console/calls/{offer.pk}/transfer", {"specialist": "billing", "mode": "blind"}, content_type=JSON
    )
    with commit():
        conference_event(
            callback, "participant-join", CallSid="CA" + "5" * 32, ParticipantLabel=f"specialist-{offer.pk}"
        )
    (kept,) = _events(tenants, sid, "recording_still_paused")
    assert "transferred" in kept.data["reason"]
    assert _paused(tenants, sid)


def test_a_console_reload_on_a_paused_call_keeps_the_pause_and_says_so_once(
    db, tenants, queue, alpha_number, commit, bridges, twilio_mock, monkeypatch, recorded
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    sid, offer, _ = _connected(tenants, alpha_number, queue, commit, http)
    console = logged_in(None, offer.operator.user)
    url = f"/console/calls/{offer.pk}/recording"
    console.post(url, {"on": True}, content_type=JSON)
    for _ in range(2):
        assert console.post(url, {"keep": True}, content_type=JSON).json()["paused"] is True
    (kept,) = _events(tenants, sid, "recording_still_paused")
    assert "reloaded" in kept.data["reason"]
    assert len(_updates(http)) == 1


def test_only_the_calls_operator_and_supervisors_may_pause_and_never_another_companys_call(
    db, tenants, queue, alpha_number, commit, bridges, twilio_mock, monkeypatch, recorded
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    sid, offer, _ = _connected(tenants, alpha_number, queue, commit, http)
    other = logged_in(None, make_operator({queue: 1}).user)
    assert (
        other.post(f"/console/calls/{offer.pk}/recording", {"on": True}, content_type=JSON).status_code == 404
    )
    connection.set_schema_to_public()
    boss = make_user(None, role=Role.SUPERVISOR)
    supervisor = logged_in(None, boss)
    base = "/console/supervise/{}/calls/{}/recording"
    assert (
        supervisor.post(base.format(tenants.beta.slug, sid), {"on": True}, content_type=JSON).status_code
        == 404
    )
    assert not _updates(http)
    done = supervisor.post(base.format(tenants.alpha.slug, sid), {"on": True}, content_type=JSON)
    assert done.status_code == 200 and done.json()["paused_by"] == boss.username
    assert _events(tenants, sid, "recording_paused")[0].data["reason"] == "supervisor"
    operator = logged_in(None, offer.operator.user)
    assert (
        operator.post(base.format(tenants.alpha.slug, sid), {"on": False}, content_type=JSON).status_code
        == 403
    )
    client_admin = logged_in(tenants.alpha, make_user(tenants.alpha, role=Role.CLIENT_ADMIN))
    assert client_admin.post(
        base.format(tenants.alpha.slug, sid), {"on": False}, content_type=JSON
    ).status_code in (403, 404)
    assert (
        operator.post(f"/console/calls/{offer.pk}/recording", {"on": "yes"}, content_type=JSON).status_code
        == 409
    )


def test_a_company_that_does_not_record_has_nothing_to_pause(
    db, tenants, queue, alpha_number, commit, bridges, twilio_mock, monkeypatch
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    _, offer, _ = _connected(tenants, alpha_number, queue, commit, http)
    console = logged_in(None, offer.operator.user)
    refused = console.post(f"/console/calls/{offer.pk}/recording", {"on": True}, content_type=JSON)
    assert refused.status_code == 409 and "not recorded" in refused.json()["error"]
    assert console.get(f"/console/calls/{offer.pk}").json()["recording"]["recorded"] is False
    assert not _updates(http)


CARD_SCRIPT = {
    "format": 1,
    "start": "hello",
    "dispositions": ["paid"],
    "nodes": {
        "hello": {"kind": "say", "text": "Hello", "next": "card"},
        "card": {
            "kind": "question",
            "text": "Card number?",
            "type": "text",
            "sensitive": True,
            "next": "expiry",
        },
        "expiry": {
            "kind": "question",
            "text": "Expiry?",
            "type": "text",
            "sensitive": True,
            "next": "thanks",
        },
        "thanks": {"kind": "say", "text": "Thank you", "next": "bye"},
        "bye": {"kind": "end", "text": "Bye", "disposition": "paid"},
    },
}


def test_a_sensitive_step_pauses_on_entering_and_resumes_on_leaving(
    db, tenants, queue, alpha_number, commit, bridges, twilio_mock, monkeypatch, recorded
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    sid, offer, _ = _connected(tenants, alpha_number, queue, commit, http)
    with tenant_context(tenants.alpha):
        script = Script.objects.create(name="Payments")
        version = ScriptVersion.objects.create(script=script, number=1, graph=CARD_SCRIPT, state="active")
        session = session_start(script=script, version=version, kind=ScriptSession.Kind.CALL, contact={})
        Call.objects.filter(call_sid=sid).update(script_session=session)
    console = logged_in(None, offer.operator.user)
    url = f"/console/calls/{offer.pk}/script"
    entered = console.post(url, {"action": "ack", "node": "hello"}, content_type=JSON).json()
    assert entered["step"]["node"] == "card" and entered["step"]["sensitive"] is True
    assert entered["recording"]["paused"] is True and entered["recording_error"] is None
    inside = console.post(
        url, {"action": "answer", "node": "card", "value": "4111"}, content_type=JSON
    ).json()
    assert inside["step"]["node"] == "expiry" and inside["recording"]["paused"] is True
    left = console.post(
        url, {"action": "answer", "node": "expiry", "value": "12/30"}, content_type=JSON
    ).json()
    assert left["step"]["node"] == "thanks" and left["recording"]["paused"] is False
    assert [s.data["Status"] for s in _updates(http)] == ["paused", "in-progress"]
    pause, resume = _events(tenants, sid, "recording_paused", "recording_resumed")
    assert (
        pause.data["reason"] == "sensitive step card" and resume.data["reason"] == "left sensitive step card"
    )


def test_a_call_that_connects_on_a_sensitive_first_step_pauses_when_the_console_follows_it(
    db, tenants, queue, alpha_number, commit, bridges, twilio_mock, monkeypatch, recorded
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    sid, offer, _ = _connected(tenants, alpha_number, queue, commit, http)
    console = logged_in(None, offer.operator.user)
    url = f"/console/calls/{offer.pk}/recording"
    no_script = console.post(url, {"follow": True}, content_type=JSON)
    assert no_script.status_code == 409 and not _updates(http)
    with tenant_context(tenants.alpha):
        script = Script.objects.create(name="Card first")
        nodes = {k: v for k, v in CARD_SCRIPT["nodes"].items() if k != "hello"}
        graph = {**CARD_SCRIPT, "start": "card", "nodes": nodes}
        version = ScriptVersion.objects.create(script=script, number=1, graph=graph, state="active")
        session = session_start(script=script, version=version, kind=ScriptSession.Kind.CALL, contact={})
        Call.objects.filter(call_sid=sid).update(script_session=session)
    view = console.get(f"/console/calls/{offer.pk}").json()
    assert (
        view["step"]["sensitive"] is True and view["recording"]["paused"] is False
    )  # a read changes nothing
    followed = console.post(url, {"follow": True}, content_type=JSON).json()
    assert followed["recording"]["paused"] is True and followed["recording_error"] is None
    assert console.post(url, {"follow": True}, content_type=JSON).json()["recording"]["paused"] is True
    assert [s.data["Status"] for s in _updates(http)] == ["paused"]
    assert _events(tenants, sid, "recording_paused")[0].data["reason"] == "sensitive step card"
