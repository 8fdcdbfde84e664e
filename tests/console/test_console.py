"""The operator console over HTTP: only your own offers, the right company's data, answers, wrap-up."""

from __future__ import annotations

import datetime as dt

import jwt
import pytest
from django.conf import settings
from django_tenants.utils import tenant_context

from accounts.models import Role
from scripts_engine.models import ScriptAnswer
from telephony import routing
from telephony.calls.bridging import operator_identity
from telephony.calls.models import Call, CallEvent
from telephony.models import OperatorProfile, Reservation
from tests.conftest import http, logged_in, make_user
from tests.console.kit import offer_call
from tests.factories import CallFactory
from tests.telephony.helpers import make_operator


@pytest.fixture
def offered(db, tenants, django_capture_on_commit_callbacks):
    return offer_call(tenants.alpha, django_capture_on_commit_callbacks)


@pytest.fixture
def accepted(offered, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        routing.accept(reservation_id=offered.reservation.pk, operator=offered.operator.user)
    return offered


def post(client, path, body):
    return client.post(path, body, content_type="application/json")


def test_the_screen_pop_shows_the_company_greeting_contact_history_and_callbacks(offered):
    client = logged_in(None, offered.operator.user)
    pop = client.get(f"/console/offers/{offered.reservation.pk}").json()
    assert pop["tenant"]["name"] == "Alpha Ltd"
    assert pop["greeting"] == "Acme, hello!"
    assert pop["contact"]["name"] == "Ann Lee" and pop["contact"]["company"] == "Lee & Co"
    assert [h["disposition"] for h in pop["history"]] == ["Resolved"]
    assert len(pop["callbacks"]) == 1
    assert client.get("/console/state").json()["phase"] == "offer"


def test_an_operator_cannot_see_or_act_on_another_operators_offer(offered):
    other = make_operator({})
    client = logged_in(None, other.user)
    path = f"/console/offers/{offered.reservation.pk}"
    assert client.get(path).status_code == 404
    assert client.get(f"/console/calls/{offered.reservation.pk}").status_code == 404
    response = post(client, f"/console/calls/{offered.reservation.pk}/script", {"action": "back"})
    assert response.status_code == 404
    assert client.get("/console/state").json()["reservation"] is None


def test_another_operator_cannot_act_on_a_taken_call(accepted, monkeypatch):
    hung_up = []
    monkeypatch.setattr("telephony.gateway.hang_up", lambda call_sid: hung_up.append(call_sid) or True)
    other = logged_in(None, make_operator({}).user)
    base = f"/console/calls/{accepted.reservation.pk}"
    assert other.get(base).status_code == 404
    assert post(other, base + "/script", {"action": "note", "value": "x"}).status_code == 404
    assert post(other, base + "/transfer", {"specialist": "billing"}).status_code == 404
    assert post(other, base + "/hang-up", {}).status_code == 404
    assert post(other, base + "/wrap-up", {"disposition": "resolved"}).status_code == 404
    assert hung_up == []
    assert Reservation.objects.get(pk=accepted.reservation.pk).state == "accepted"
    with tenant_context(accepted.tenant):
        call = Call.objects.get(call_sid=accepted.call_sid)
        assert call.wrapup_ended_at is None and not call.events.filter(kind="note").exists()


def test_bad_request_bodies_are_refused_not_a_server_error(accepted):
    client = logged_in(None, accepted.operator.user)
    base = f"/console/calls/{accepted.reservation.pk}"
    for action in ("/script", "/transfer", "/wrap-up", "/hold"):
        for body in ("{not json", "[1, 2]", "null", "\xff"):
            response = client.post(base + action, body, content_type="application/json")
            assert response.status_code == 409, (action, body)
    odd = {"action": "answer", "node": {"a": 1}, "value": {"b": [1]}}
    assert post(client, base + "/script", odd).status_code == 200
    assert post(client, base + "/script", {"action": 3}).status_code == 409
    assert client.get(f"/console/calls/{10**30}").status_code == 404


def test_the_screen_pop_reads_only_the_calling_companys_schema(offered, tenants):
    with tenant_context(tenants.beta):
        CallFactory(
            call_sid="CAbeta" + offered.call_sid[6:], from_number="+14155550123", to_number="+1555",
            started_at=offered.reservation.offered_at, disposition="beta_secret",
        )  # fmt: skip
    pop = logged_in(None, offered.operator.user).get(f"/console/offers/{offered.reservation.pk}").json()
    assert "beta_secret" not in str(pop) and "Beta" not in str(pop)


def test_people_who_are_not_operators_cannot_open_the_console(db, tenants):
    assert http(None).get("/console/").status_code == 302
    manager = make_user(None, role=Role.ACCOUNT_MANAGER)
    assert logged_in(None, manager).get("/console/").status_code == 403
    client_admin = make_user(tenants.alpha, role=Role.CLIENT_ADMIN)
    assert logged_in(tenants.alpha, client_admin).get("/console/").status_code == 404


def test_the_console_page_renders_for_an_operator(db, tenants):
    operator = make_operator({})
    response = logged_in(None, operator.user).get("/console/")
    assert response.status_code == 200 and b'id="state-choice"' in response.content


def test_the_script_runs_step_by_step_and_every_answer_is_saved_as_given(accepted):
    client = logged_in(None, accepted.operator.user)
    base = f"/console/calls/{accepted.reservation.pk}"
    view = client.get(base).json()
    assert view["step"]["node"] == "greeting" and "Ann" in view["step"]["text"]
    assert {d["code"] for d in view["dispositions"]} >= {"resolved", "callback"}
    step = post(client, base + "/script", {"action": "ack", "node": "greeting"}).json()["step"]
    assert step["node"] == "topic"
    step = post(client, base + "/script", {"action": "answer", "node": "topic", "value": "delivery status"})
    assert step.json()["step"]["node"] == "order_no"
    refused = post(client, base + "/script", {"action": "answer", "node": "order_no", "value": "12"}).json()
    assert refused["error"] and refused["step"]["node"] == "order_no"
    back = post(client, base + "/script", {"action": "back"}).json()
    assert back["step"]["node"] == "topic"
    post(client, base + "/script", {"action": "answer", "node": "topic", "value": "delivery status"})
    done = post(client, base + "/script", {"action": "answer", "node": "order_no", "value": "AB123456"})
    assert done.json()["answers"] == {"topic": "delivery status", "order_no": "AB123456"}
    post(client, base + "/script", {"action": "note", "value": "Asked twice about the parcel"})
    with tenant_context(accepted.tenant):
        call = Call.objects.get(call_sid=accepted.call_sid)
        answers = ScriptAnswer.objects.filter(session=call.script_session)
        logged = list(answers.values_list("node_id", "value"))
        topic = ("topic", "delivery status")
        assert logged == [topic, topic, ("order_no", "AB123456")]
        notes = CallEvent.objects.filter(call=call, kind="note")
        assert list(notes.values_list("data__text", flat=True)) == ["Asked twice about the parcel"]


def test_wrap_up_stores_the_disposition_note_and_time_then_the_operator_is_available(
    accepted, django_capture_on_commit_callbacks, monkeypatch
):
    hung_up = []
    monkeypatch.setattr("telephony.gateway.hang_up", lambda call_sid: hung_up.append(call_sid) or True)
    client = logged_in(None, accepted.operator.user)
    base = f"/console/calls/{accepted.reservation.pk}"
    refused = post(client, base + "/wrap-up", {"disposition": "not_in_list"})
    assert refused.status_code == 409
    with django_capture_on_commit_callbacks(execute=True):
        wrap = {"disposition": "resolved", "note": "ok", "available": True}
        response = post(client, base + "/wrap-up", wrap)
    assert response.status_code == 200
    assert hung_up == [accepted.call_sid]
    with tenant_context(accepted.tenant):
        call = Call.objects.get(call_sid=accepted.call_sid)
        assert call.disposition == "resolved"
        assert call.wrapup_ended_at is not None and call.wrapup_seconds is not None
        assert call.events.get(kind="wrap_up").data["note"] == "ok"
    assert OperatorProfile.objects.get(pk=accepted.operator.pk).state == "available"
    assert Reservation.objects.get(pk=accepted.reservation.pk).state == "completed"
    assert client.get("/console/state").json()["phase"] is None
    assert client.get(base).status_code == 409  # wrapped up: the call is no longer the console's


def test_after_a_reload_the_console_finds_the_call_and_its_script_step(accepted):
    client = logged_in(None, accepted.operator.user)
    base = f"/console/calls/{accepted.reservation.pk}"
    post(client, base + "/script", {"action": "ack", "node": "greeting"})
    state = client.get("/console/state").json()
    found = (state["phase"], state["reservation"], state["state"])
    assert found == ("call", accepted.reservation.pk, "on_call")
    assert client.get(base).json()["step"]["node"] == "topic"


def test_an_offer_that_expired_while_away_is_shown_as_missed(offered):
    routing.expire_reservations(now=offered.reservation.expires_at + dt.timedelta(seconds=1))
    state = logged_in(None, offered.operator.user).get("/console/state").json()
    assert state["phase"] is None
    assert [m["tenant"] for m in state["missed"]] == ["Alpha Ltd"]


def test_the_softphone_token_carries_the_operators_identity_and_a_voice_grant(db, tenants):
    operator = make_operator({})
    data = logged_in(None, operator.user).get("/console/token").json()
    claims = jwt.decode(data["token"], settings.TWILIO_API_SECRET, algorithms=["HS256"])
    assert claims["iss"] == settings.TWILIO_API_KEY and claims["sub"] == settings.TWILIO_ACCOUNT_SID
    assert claims["grants"]["identity"] == operator_identity(operator.user.pk) == data["identity"]
    voice = claims["grants"]["voice"]
    assert voice["incoming"]["allow"] is True
    assert voice["outgoing"]["application_sid"] == settings.TWILIO_TWIML_APP_SID


def test_a_company_without_dispositions_can_still_be_wrapped_up(accepted, monkeypatch):
    monkeypatch.setattr("telephony.gateway.hang_up", lambda call_sid: True)
    from scripts_engine.models import Disposition

    with tenant_context(accepted.tenant):
        Disposition.objects.all().delete()
    client = logged_in(None, accepted.operator.user)
    response = post(client, f"/console/calls/{accepted.reservation.pk}/wrap-up", {"disposition": ""})
    assert response.status_code == 200
    with tenant_context(accepted.tenant):
        assert Call.objects.get(call_sid=accepted.call_sid).wrapup_ended_at is not None


def test_the_browser_phone_is_loaded_only_where_it_is_turned_on(db, tenants, settings):
    operator = make_operator({})
    off = logged_in(None, operator.user).get("/console/").content.decode()
    assert 'data-enabled="off"' in off and "twilio-voice/twilio.min.js" not in off
    settings.TWILIO_SOFTPHONE = True
    on = logged_in(None, operator.user).get("/console/").content.decode()
    assert 'data-enabled="on"' in on and "vendor/twilio-voice/twilio.min.js" in on
