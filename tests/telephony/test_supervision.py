"""Live supervision (R21): a supervisor listens, whispers, barges and leaves a live call from the
wallboard, unnoticed; every request goes through the real ``twilio`` client to Prism on Twilio's
spec; Twilio's failures leave no half state; the call's end closes the session; only platform
supervisors, and a client company sees the history only if its contract says so."""

from __future__ import annotations

import jwt
import pytest
from django.conf import settings
from django_tenants.utils import tenant_context

from accounts.models import Role
from telephony.models import Monitoring, Queue, WaitingCall
from tests.conftest import logged_in, make_user
from tests.reporting.factories import contract_in_force
from tests.reporting.test_api import get as api_get
from tests.reporting.test_api import key_for
from tests.telephony.conference_kit import conference_event, leg_event, query, twilio_with_faults
from tests.telephony.supervision_kit import connect_call, supervisor

# The caller moved from Twilio's queue into the conference on accept (``conftest``).
pytestmark = pytest.mark.usefixtures("caller_moved_on_accept")

JSON = "application/json"


@pytest.fixture
def queue(db, tenants) -> Queue:
    queue, _ = Queue.objects.get_or_create(tenant=tenants.alpha, is_default=True, defaults={"name": "Main"})
    return queue


@pytest.fixture
def quiet_tasks(monkeypatch) -> list[tuple]:
    """The bridge task recorded, not sent (each test runs it when it looks at it)."""
    sent: list[tuple] = []
    monkeypatch.setattr(
        "telephony.tasks.bridge_call.delay", lambda *args: sent.append(("bridge_call", *args))
    )
    return sent


def _monitor(client, connected, mode: str, device: str = "browser"):
    url = f"/wallboard/supervision/calls/{connected.waiting.pk}"
    return client.post(url, {"mode": mode, "device": device}, content_type=JSON)


def _kinds(connected, tenant) -> list[tuple[str, str]]:
    with tenant_context(tenant):
        events = connected.call(tenant).events.filter(kind__startswith="supervision_").order_by("pk")
        return [(e.kind, e.data["mode"]) for e in events]


def test_a_supervisor_listens_whispers_barges_and_leaves_unnoticed(
    db, tenants, queue, alpha_number, commit, quiet_tasks, twilio_mock, monkeypatch
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    connected = connect_call(tenants.alpha, alpha_number, queue, commit, http)
    sue = supervisor()
    board = logged_in(None, sue)

    listening = _monitor(board, connected, "listen")
    assert listening.status_code == 200, listening.content
    assert listening.json()["session"]["mode"] == "listen"
    added = http.sent[-1]  # validated by Prism against Twilio's spec
    assert added.url.endswith(f"/Conferences/call-{connected.sid}/Participants.json")
    assert added.data["To"] == added.data["From"] == f"client:supervisor-{sue.pk}"
    assert added.data["Label"] == f"supervisor-{sue.pk}"
    assert (added.data["Muted"], added.data["Coaching"], added.data["Beep"]) == ("true", "false", "false")
    assert (added.data["StartConferenceOnEnter"], added.data["EndConferenceOnExit"]) == ("false", "false")
    assert query(added.data["StatusCallback"])["t"] == tenants.alpha.schema_name

    assert _monitor(board, connected, "whisper").json()["session"]["mode"] == "whisper"
    coached = http.sent[-1]
    assert coached.url.endswith(f"/Participants/supervisor-{sue.pk}.json")
    with tenant_context(tenants.alpha):
        operator_leg = connected.call(tenants.alpha).events.get(kind="leg").data["call_sid"]
    assert (coached.data["Coaching"], coached.data["CallSidToCoach"], coached.data["Muted"]) == (
        "true", operator_leg, "false"
    )  # fmt: skip

    assert _monitor(board, connected, "barge").json()["session"]["mode"] == "barge"
    assert (http.sent[-1].data["Coaching"], http.sent[-1].data["Muted"]) == ("false", "false")
    assert _monitor(board, connected, "listen").json()["session"]["mode"] == "listen"
    assert http.sent[-1].data["Muted"] == "true"

    left = board.post("/wallboard/supervision/leave", content_type=JSON)
    assert left.json()["session"] is None
    assert http.sent[-1].method == "DELETE" and http.sent[-1].url.endswith(
        f"/Participants/supervisor-{sue.pk}.json"
    )
    assert _kinds(connected, tenants.alpha) == [
        ("supervision_start", "listen"), ("supervision_switch", "whisper"), ("supervision_switch", "barge"),
        ("supervision_switch", "listen"), ("supervision_stop", "listen"),
    ]  # fmt: skip
    with tenant_context(tenants.alpha):
        start = connected.call(tenants.alpha).events.get(kind="supervision_start")
        assert start.data["supervisor"] == "Sue Visor" and start.data["device"] == "browser"
    assert not Monitoring.objects.filter(ended_at=None).exists()
    assert len([s for s in http.sent if "/Calls/" in s.url]) == 1  # the caller was never touched


@pytest.mark.parametrize("fault", ["429", "503", "timeout"])
def test_twilio_unavailable_leaves_no_half_state_and_tells_the_supervisor(
    db, tenants, queue, alpha_number, commit, quiet_tasks, twilio_mock, monkeypatch, fault
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    connected = connect_call(tenants.alpha, alpha_number, queue, commit, http)
    board = logged_in(None, supervisor())
    http.plan.script = [fault]
    refused = _monitor(board, connected, "listen")
    assert refused.status_code == 409 and "not answering" in refused.json()["error"]
    assert not Monitoring.objects.exists() and _kinds(connected, tenants.alpha) == []

    assert _monitor(board, connected, "listen").status_code == 200
    http.plan.script = [fault]
    switch = _monitor(board, connected, "barge")
    assert switch.status_code == 409 and "nothing changed" in switch.json()["error"]
    assert Monitoring.objects.get(ended_at=None).mode == "listen"
    http.plan.script = [fault]
    assert board.post("/wallboard/supervision/leave", content_type=JSON).status_code == 409
    assert Monitoring.objects.filter(ended_at=None).count() == 1  # still on the call, as Twilio says
    assert _kinds(connected, tenants.alpha) == [("supervision_start", "listen")]


def test_a_refused_or_gone_request_is_said_and_a_gone_call_closes_the_session(
    db, tenants, queue, alpha_number, commit, quiet_tasks, twilio_mock, monkeypatch
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    connected = connect_call(tenants.alpha, alpha_number, queue, commit, http)
    board = logged_in(None, supervisor())
    http.plan.script = ["refused"]
    refused = _monitor(board, connected, "whisper")
    assert refused.status_code == 409 and "refused" in refused.json()["error"]
    assert _monitor(board, connected, "whisper").status_code == 200
    http.plan.script = ["404"]
    gone = _monitor(board, connected, "barge")
    assert gone.status_code == 409 and "ended" in gone.json()["error"]
    assert not Monitoring.objects.filter(ended_at=None).exists()
    assert _kinds(connected, tenants.alpha)[-1] == ("supervision_stop", "whisper")


def test_the_calls_end_or_the_supervisors_line_dropping_closes_the_session(
    db, tenants, queue, alpha_number, commit, quiet_tasks, twilio_mock, monkeypatch
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    connected = connect_call(tenants.alpha, alpha_number, queue, commit, http)
    sue = supervisor()
    board = logged_in(None, sue)
    assert _monitor(board, connected, "listen").status_code == 200
    leg = http.sent[-1]
    leg_sid = Monitoring.objects.get(ended_at=None).leg_sid
    assert leg_event(leg.data["StatusCallback"], "failed", "CA" + "e" * 32).status_code == 204
    assert Monitoring.objects.filter(ended_at=None).count() == 1  # another leg's late callback
    for _ in range(2):  # Twilio may post it twice
        assert leg_event(leg.data["StatusCallback"], "no-answer", leg_sid).status_code == 204
    assert Monitoring.objects.get().end_reason == "supervisor's line no-answer"

    assert _monitor(board, connected, "barge").status_code == 200
    barging, leg = Monitoring.objects.get(ended_at=None), http.sent[-1]
    with commit():  # they hung up: their leg's status callback says so (its leaving is not asked for)
        leg_event(leg.data["StatusCallback"], "completed", barging.leg_sid)
    assert Monitoring.objects.get(pk=barging.pk).end_reason == "supervisor's line completed"

    assert _monitor(board, connected, "whisper").status_code == 200
    with commit():
        conference_event(
            connected.callback,
            "conference-end",
            ReasonConferenceEnded="participant-with-end-conference-on-exit-left",
        )
    ended = Monitoring.objects.order_by("pk").last()
    assert ended.ended_at is not None and ended.end_reason == "call ended"
    assert [k for k, _ in _kinds(connected, tenants.alpha)].count("supervision_stop") == 3


def test_monitoring_from_the_supervisors_phone_needs_a_valid_e164_number(
    db, tenants, queue, alpha_number, commit, quiet_tasks, twilio_mock, monkeypatch
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    connected = connect_call(tenants.alpha, alpha_number, queue, commit, http)
    board = logged_in(None, supervisor())
    missing = _monitor(board, connected, "listen", device="phone")
    assert missing.status_code == 409 and "phone number first" in missing.json()["error"]
    bad = board.post("/wallboard/supervision/phone", {"phone": "0555 0100"}, content_type=JSON)
    assert bad.status_code == 409 and "E.164" in bad.json()["error"]
    saved = board.post("/wallboard/supervision/phone", {"phone": "+14155550123"}, content_type=JSON)
    assert saved.json()["phone"] == "+14155550123"
    assert _monitor(board, connected, "listen", device="phone").status_code == 200
    added = http.sent[-1]
    assert (added.data["To"], added.data["From"]) == ("+14155550123", alpha_number)


def test_a_call_not_connected_yet_cannot_be_monitored_and_one_call_at_a_time(
    db, tenants, queue, alpha_number, commit, quiet_tasks, twilio_mock, monkeypatch
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    ringing = connect_call(tenants.alpha, alpha_number, queue, commit, http, join=False)
    board = logged_in(None, supervisor())
    refused = _monitor(board, ringing, "listen")
    assert refused.status_code == 409 and "not connected" in refused.json()["error"]
    connected = connect_call(tenants.alpha, "+15550199001", queue, commit, http)
    assert _monitor(board, connected, "listen").status_code == 200
    with commit():
        conference_event(ringing.callback, "participant-join", CallSid="CA" + "8" * 32,
                         ParticipantLabel=f"operator-{ringing.offer.pk}")  # fmt: skip
    other = _monitor(board, ringing, "listen")
    assert other.status_code == 409 and "Leave the call" in other.json()["error"]
    assert _monitor(board, connected, "sing").status_code == 409
    assert (
        board.post(
            f"/wallboard/supervision/calls/{connected.waiting.pk}", "[]", content_type=JSON
        ).status_code
        == 409
    )


def test_only_platform_supervisors_reach_supervision(
    db, tenants, queue, alpha_number, commit, quiet_tasks, twilio_mock, monkeypatch
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    connected = connect_call(tenants.alpha, alpha_number, queue, commit, http)
    url = f"/wallboard/supervision/calls/{connected.waiting.pk}"
    operator = logged_in(None, connected.offer.operator.user)
    assert operator.post(url, {"mode": "listen"}, content_type=JSON).status_code == 403
    assert operator.get("/wallboard/supervision/token").status_code == 403
    manager = logged_in(None, make_user(None, role=Role.ACCOUNT_MANAGER))
    assert manager.post(url, {"mode": "listen"}, content_type=JSON).status_code == 403
    for tenant in (tenants.alpha, tenants.beta):  # a company's own staff, on its own host
        admin = logged_in(tenant, make_user(tenant, role=Role.CLIENT_ADMIN))
        assert admin.post(url, {"mode": "listen"}, content_type=JSON).status_code == 404
        assert admin.get("/wallboard/supervision/token").status_code == 404
        assert admin.get("/wallboard/").status_code == 404
    assert not Monitoring.objects.exists()
    assert not [
        s for s in http.sent if "supervisor" in s.url or s.data.get("Label", "").startswith("supervisor")
    ]
    sue = supervisor()
    token = logged_in(None, sue).get("/wallboard/supervision/token").json()
    grants = jwt.decode(token["token"], settings.TWILIO_API_SECRET, algorithms=["HS256"])["grants"]
    assert grants["identity"] == token["identity"] == f"supervisor-{sue.pk}"
    assert grants["voice"]["incoming"] == {"allow": True} and "outgoing" not in grants["voice"]


def test_the_client_sees_supervision_in_its_call_detail_only_if_its_contract_says_so(
    db, tenants, queue, alpha_number, commit, quiet_tasks, twilio_mock, monkeypatch
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    connected = connect_call(tenants.alpha, alpha_number, queue, commit, http)
    board = logged_in(None, supervisor(first="Sam", last="Checker"))
    assert _monitor(board, connected, "whisper").status_code == 200
    call_id = connected.call(tenants.alpha).pk
    page = f"/reports/calls/{call_id}/"
    alpha = logged_in(tenants.alpha, make_user(tenants.alpha, role=Role.CLIENT_VIEWER))
    _, key = key_for(tenants.alpha, "read_calls")
    _, beta_key = key_for(tenants.beta, "read_calls")

    def api_kinds() -> list[str]:
        return [e["kind"] for e in api_get(tenants.alpha, f"/api/v1/calls/{call_id}/", key).json()["events"]]

    assert "supervision_start" not in api_kinds()
    assert "Sam Checker" not in alpha.get(page).content.decode()  # no contract: the default (off)
    assert "Supervision" not in alpha.get(page).content.decode()
    contract_in_force(tenants.alpha, tariffs=[], supervision_visible_to_client=True)
    shown = alpha.get(page).content.decode()
    assert "Supervision start" in shown and "Sam Checker" in shown and "whisper" in shown
    assert "supervision_start" in api_kinds()
    assert api_get(tenants.alpha, f"/api/v1/calls/{call_id}/", beta_key).status_code in (401, 403, 404)
    beta = logged_in(tenants.beta, make_user(tenants.beta, role=Role.CLIENT_ADMIN))
    assert beta.get(page).status_code == 404


def test_the_platform_sees_who_supervised_a_recorded_call_on_its_quality_page(
    db, tenants, queue, alpha_number, commit, quiet_tasks, twilio_mock, monkeypatch
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    connected = connect_call(tenants.alpha, alpha_number, queue, commit, http)
    sue = supervisor(first="Sam", last="Checker")
    board = logged_in(None, sue)
    assert _monitor(board, connected, "listen").status_code == 200
    assert _monitor(board, connected, "barge").status_code == 200
    with tenant_context(tenants.alpha):
        call = connected.call(tenants.alpha)
        call.recording_sid = "RE" + "1" * 32
        call.save(update_fields=["recording_sid"])
    page = board.get(f"/quality/{tenants.alpha.slug}/calls/{call.pk}/").content.decode()
    history = page.split('id="supervision-history"')[1].split("</ol>")[0]
    assert "Sam Checker: joined, listen" in history and "Sam Checker: switched to barge" in history


def test_a_session_whose_calls_end_was_never_reported_does_not_block_the_next_one(
    db, tenants, queue, alpha_number, commit, quiet_tasks, twilio_mock, monkeypatch
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    first = connect_call(tenants.alpha, alpha_number, queue, commit, http)
    board = logged_in(None, supervisor())
    assert _monitor(board, first, "listen").status_code == 200
    WaitingCall.objects.filter(pk=first.waiting.pk).update(state=WaitingCall.State.LEFT)  # callback lost
    second = connect_call(tenants.alpha, alpha_number, queue, commit, http)
    assert _monitor(board, second, "listen").status_code == 200
    assert Monitoring.objects.get(call=first.waiting).end_reason == "call ended"
    assert Monitoring.objects.get(ended_at=None).call_id == second.waiting.pk
