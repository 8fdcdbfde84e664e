"""Twilio's voice webhooks: signatures, TwiML, idempotency, order of callbacks, IVR, exits."""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.utils import timezone
from django_tenants.utils import tenant_context

from telephony.calls.models import Call, Callback, CallEvent, TelephonySettings, WebhookEvidence
from telephony.webhooks import NUMBERS
from tests.scripts_engine.conftest import active_script
from tests.telephony.calls_kit import incoming, new_sid
from tests.telephony.helpers import make_operator
from tests.twilio_kit import check_twiml, signed_post, verbs

# Twilio's own vectors (twilio-python's validator tests), through Django's test client.
VECTOR_PARAMS = {
    "CallSid": "CA1234567890ABCDE", "Digits": "1234", "From": "+14158675309",
    "To": "+18005551212", "Caller": "+14158675309",
}  # fmt: skip


@pytest.mark.parametrize(
    ("url", "signature"),
    [
        ("https://mycompany.com/myapp.php?foo=1&bar=2", "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
        ("https://mycompany.com:443/myapp.php?foo=1&bar=2", "kvajT1Ptam85bY51eRf/AJRuM3w="),
    ],
)
def test_twilios_published_signature_vectors_validate(rf, url, signature):
    from telephony.signatures import is_signed

    request = rf.post(
        "/myapp.php?foo=1&bar=2", VECTOR_PARAMS, secure=True, HTTP_HOST="mycompany.com",
        HTTP_X_TWILIO_SIGNATURE=signature,
    )  # fmt: skip
    with override_settings(
        TWILIO_AUTH_TOKEN="12345", TWILIO_WEBHOOK_BASE_URL="", ALLOWED_HOSTS=["mycompany.com"]
    ):
        assert is_signed(request)
        tampered = rf.post(
            "/myapp.php?foo=1&bar=2", {**VECTOR_PARAMS, "Digits": "1235"}, secure=True,
            HTTP_HOST="mycompany.com", HTTP_X_TWILIO_SIGNATURE=signature,
        )  # fmt: skip
        assert not is_signed(tampered)
        plain_http = rf.post("/myapp.php?foo=1&bar=2", VECTOR_PARAMS, HTTP_HOST="mycompany.com",
                             HTTP_X_TWILIO_SIGNATURE=signature)  # fmt: skip
        assert not is_signed(plain_http)
    with override_settings(TWILIO_AUTH_TOKEN="54321", ALLOWED_HOSTS=["mycompany.com"]):
        assert not is_signed(request)


def test_behind_a_proxy_the_configured_public_url_is_what_is_signed(rf):
    from telephony.signatures import is_signed

    request = rf.post("/myapp.php?foo=1&bar=2", VECTOR_PARAMS, HTTP_HOST="internal:8000",
                      HTTP_X_TWILIO_SIGNATURE="RSOYDt4T1cUTdK1PDd93/VVr8B8=")  # fmt: skip
    with override_settings(TWILIO_AUTH_TOKEN="12345", TWILIO_WEBHOOK_BASE_URL="https://mycompany.com",
                           ALLOWED_HOSTS=["internal"]):  # fmt: skip
        assert is_signed(request)


@pytest.mark.parametrize(
    "tamper",
    ["missing_header", "changed_parameter", "added_parameter", "wrong_url", "wrong_token"],
)
def test_every_webhook_refuses_a_badly_signed_request(db, tenants, alpha_number, tamper):
    params = {"CallSid": new_sid(), "From": "+14155550100", "To": alpha_number, "CallStatus": "ringing"}
    paths = ["/twilio/voice/incoming", "/twilio/voice/status", "/twilio/voice/gather", "/twilio/voice/wait",
             "/twilio/voice/recording", "/twilio/voice/fallback"]  # fmt: skip
    for path in paths:
        if tamper == "missing_header":
            response = signed_post(path, params, signature="")
        elif tamper == "wrong_token":
            response = signed_post(path, params, token="not-the-token")
        else:
            from django.conf import settings
            from twilio.request_validator import RequestValidator

            url = f"http://{settings.PLATFORM_HOST}{path}"
            signed_over = {**params, "To": "+15550000000"} if tamper == "changed_parameter" else params
            if tamper == "wrong_url":
                url = url.replace("http://", "https://")
            sig = RequestValidator(settings.TWILIO_AUTH_TOKEN).compute_signature(url, signed_over)
            sent = {**params, "Extra": "1"} if tamper == "added_parameter" else params
            response = signed_post(path, sent, signature=sig)
        assert response.status_code == 403, path
    with tenant_context(tenants.alpha):
        assert not Call.objects.filter(call_sid=params["CallSid"]).exists()


def test_a_webhook_takes_post_or_get_only(db, tenants):
    from tests.conftest import http

    assert http(None).put("/twilio/voice/incoming").status_code == 405
    assert http(None).get("/twilio/voice/incoming").status_code == 403  # unsigned


def test_an_unknown_number_gets_a_polite_message_and_an_event(db, tenants):
    from telephony.models import UnservedCall

    response, params = incoming("+15559999999")
    incoming("+15559999999", sid=params["CallSid"])
    assert response.status_code == 200
    assert verbs(response.content) == ["Say", "Hangup"]
    assert "not in service" in response.content.decode()
    unserved = UnservedCall.objects.get(call_sid=params["CallSid"])  # one, although posted twice
    assert (unserved.from_number, unserved.to_number) == ("+14155550100", "+15559999999")


def test_a_number_in_the_pool_answers_like_an_unknown_one(db, tenants):
    from telephony.models import PhoneNumber, UnservedCall

    PhoneNumber.objects.create(number="+15559990001", state=PhoneNumber.State.AVAILABLE)
    response, params = incoming("+15559990001")
    assert verbs(response.content) == ["Say", "Hangup"]
    assert "not in service" in response.content.decode()
    assert UnservedCall.objects.filter(call_sid=params["CallSid"], to_number="+15559990001").exists()


def test_incoming_call_to_a_suspended_client_is_refused_politely_and_recorded(db, tenants, alpha_number):
    from tenants.models import Client

    Client.objects.filter(pk=tenants.alpha.pk).update(status=Client.Status.SUSPENDED)
    try:
        response, params = incoming(alpha_number)
    finally:
        Client.objects.filter(pk=tenants.alpha.pk).update(status=Client.Status.ACTIVE)
    assert verbs(response.content) == ["Say", "Hangup"]
    assert "temporarily unavailable" in response.content.decode()
    with tenant_context(tenants.alpha):
        call = Call.objects.get(call_sid=params["CallSid"])
        assert call.outcome == Call.Outcome.FAILED
        assert call.events.filter(kind="refused_not_in_service").exists()


def test_a_number_that_changed_company_or_state_is_answered_as_it_is_now(db, tenants, alpha_number):
    from telephony.models import PhoneNumber
    from tenants.models import Client

    def served(response) -> bool:  # no queue here: the caller may leave a message
        return "Record" in verbs(response.content)

    first, _ = incoming(alpha_number)
    assert served(first)
    # The number moves to another company: the next call is beta's, nothing of it in alpha's schema.
    PhoneNumber.objects.filter(number=alpha_number).update(tenant=tenants.beta)
    moved, params = incoming(alpha_number)
    assert served(moved)
    for tenant, kept_there in ((tenants.alpha, False), (tenants.beta, True)):
        with tenant_context(tenant):
            assert Call.objects.filter(call_sid=params["CallSid"]).exists() is kept_there
            assert CallEvent.objects.filter(call__call_sid=params["CallSid"]).exists() is kept_there
    # Its company is suspended: refused at once.
    Client.objects.filter(pk=tenants.beta.pk).update(status=Client.Status.SUSPENDED)
    try:
        refused, params = incoming(alpha_number)
    finally:
        Client.objects.filter(pk=tenants.beta.pk).update(status=Client.Status.ACTIVE)
    assert "temporarily unavailable" in refused.content.decode()
    # Its company closed, the number releasing (days of grace): still that company's, refused.
    PhoneNumber.objects.filter(number=alpha_number).update(
        state=PhoneNumber.State.RELEASING, release_after=timezone.now()
    )
    for seen_here in (False, True):  # whether this process kept the number from before or not
        if seen_here:
            NUMBERS.invalidate()
        releasing, params = incoming(alpha_number)
        assert "temporarily unavailable" in releasing.content.decode()
        with tenant_context(tenants.beta):
            assert Call.objects.get(call_sid=params["CallSid"]).outcome == Call.Outcome.FAILED
    # Released: it answers like a number we do not serve.
    PhoneNumber.objects.filter(number=alpha_number).update(
        tenant=None, state=PhoneNumber.State.AVAILABLE, release_after=None
    )
    unserved, params = incoming(alpha_number)
    assert verbs(unserved.content) == ["Say", "Hangup"] and "not in service" in unserved.content.decode()
    with tenant_context(tenants.beta):
        assert not Call.objects.filter(call_sid=params["CallSid"]).exists()


def test_the_same_incoming_webhook_twice_makes_one_call_and_the_same_answer(db, tenants, alpha_number):
    active_script(tenants.alpha, sample="survey", name="Survey IVR")
    sid = new_sid()
    first, _ = incoming(alpha_number, sid=sid)
    again, _ = incoming(alpha_number, sid=sid)
    assert first.content == again.content
    with tenant_context(tenants.alpha):
        assert Call.objects.filter(call_sid=sid).count() == 1
        call = Call.objects.get(call_sid=sid)
        assert call.events.filter(kind="incoming").count() == 1
        assert call.contact.phone == "+14155550100"


def test_status_callbacks_out_of_order_never_move_a_call_backwards(db, tenants, alpha_number):
    active_script(tenants.alpha, sample="survey", name="Survey IVR")
    _, params = incoming(alpha_number)
    sid = params["CallSid"]

    def status(value: str, **extra: str) -> None:
        response = signed_post(
            "/twilio/voice/status", {"CallSid": sid, "To": alpha_number, "CallStatus": value, **extra}
        )
        assert response.status_code == 204

    status("completed", CallDuration="42")
    status("in-progress")
    status("ringing")
    status("completed", CallDuration="42")
    with tenant_context(tenants.alpha):
        call = Call.objects.get(call_sid=sid)
        assert call.status == "completed" and call.duration_seconds == 42
        assert call.outcome == Call.Outcome.ABANDONED  # hung up in the IVR
        assert CallEvent.objects.filter(call=call, kind="status:completed").count() == 1


def test_ivr_survey_runs_as_gather_and_completes_in_the_ivr(db, tenants, alpha_number):
    active_script(tenants.alpha, sample="survey", name="Survey IVR")
    response, params = incoming(alpha_number)
    root = check_twiml(response.content)
    gather = root.find("Gather")
    assert gather is not None and gather.get("input") == "dtmf speech"
    action = gather.get("action")
    assert action.startswith("/twilio/voice/gather?") and f"t={tenants.alpha.schema_name}" in action

    def answer(action: str, **heard: str):
        reply = signed_post(action, {"CallSid": params["CallSid"], "To": alpha_number, **heard})
        assert reply.status_code == 200
        return check_twiml(reply.content)

    step = answer(action, Digits="5")  # rating: 5 → recommend
    step = answer(step.find("Gather").get("action"), SpeechResult="yes")  # recommend: yes by voice
    assert [el.tag for el in step] == ["Say", "Hangup"]
    with tenant_context(tenants.alpha):
        call = Call.objects.get(call_sid=params["CallSid"])
        assert call.outcome == Call.Outcome.COMPLETED_IN_IVR and call.disposition == "survey_done"
        assert call.script_session.answers == {"rating": "5", "recommend": "yes"}
        assert call.ivr_started_at is not None


def test_ivr_reprompts_on_an_unknown_key_then_follows_the_timeout(db, tenants, alpha_number):
    active_script(tenants.alpha, sample="survey", name="Survey IVR")
    response, params = incoming(alpha_number)
    action = check_twiml(response.content).find("Gather").get("action")
    again = check_twiml(
        signed_post(action, {"CallSid": params["CallSid"], "To": alpha_number, "Digits": "9"}).content
    )
    assert "did not get that" in again.find("Gather").find("Say").text
    silent = check_twiml(signed_post(action, {"CallSid": params["CallSid"], "To": alpha_number}).content)
    with tenant_context(tenants.alpha):
        session = Call.objects.get(call_sid=params["CallSid"]).script_session
        assert session.answers.get("rating") is None and "rating" in session.answers
    assert silent.tag == "Response"


@pytest.mark.parametrize(
    ("behaviour", "expected_verbs", "outcome"),
    [
        ("voicemail", ["Say", "Record", "Say", "Hangup"], ""),
        ("callback", ["Say", "Hangup"], Call.Outcome.CALLBACK_REQUESTED),
    ],
)
def test_after_hours_callers_get_the_configured_behaviour(
    db, tenants, alpha_number, behaviour, expected_verbs, outcome
):
    with tenant_context(tenants.alpha):
        settings = TelephonySettings.current()
        settings.business_hours = {str(d): [] for d in range(7)}  # closed every day
        settings.after_hours = behaviour
        settings.save()
    response, params = incoming(alpha_number)
    assert verbs(response.content) == expected_verbs
    with tenant_context(tenants.alpha):
        call = Call.objects.get(call_sid=params["CallSid"])
        assert call.after_hours and call.outcome == outcome
        if behaviour == "callback":
            assert Callback.objects.get(call=call).reason == Callback.Reason.AFTER_HOURS


def test_a_voicemail_recording_gives_the_call_its_outcome(db, tenants, alpha_number):
    with tenant_context(tenants.alpha):
        settings = TelephonySettings.current()
        settings.holidays = ["2000-01-01"]
        settings.business_hours = {str(d): [] for d in range(7)}
        settings.save()
    response, params = incoming(alpha_number)
    record = check_twiml(response.content).find("Record")
    recorded = {"RecordingUrl": "https://api.twilio.com/rec/RE1", "RecordingDuration": "17"}
    reply = signed_post(record.get("action"), {"CallSid": params["CallSid"], "To": alpha_number, **recorded})
    assert verbs(reply.content) == ["Say", "Hangup"]
    with tenant_context(tenants.alpha):
        call = Call.objects.get(call_sid=params["CallSid"])
        assert call.outcome == Call.Outcome.VOICEMAIL and call.recording_seconds == 17


def test_the_fallback_url_still_takes_a_message_without_touching_the_database(
    db, tenants, django_assert_num_queries
):
    signed_post("/twilio/voice/fallback", {"CallSid": new_sid(), "To": "+15550000000"})  # host resolved, kept
    with django_assert_num_queries(0):
        response = signed_post("/twilio/voice/fallback", {"CallSid": new_sid(), "To": "+15550000000"})
    assert verbs(response.content) == ["Say", "Record", "Say", "Hangup"]


def test_another_tenants_calls_stay_invisible(db, tenants, alpha_number):
    active_script(tenants.alpha, sample="survey", name="Survey IVR")
    _, params = incoming(alpha_number)
    with tenant_context(tenants.beta):
        assert not Call.objects.filter(call_sid=params["CallSid"]).exists()
    # A webhook that names beta's schema cannot reach alpha's call.
    reply = signed_post(f"/twilio/voice/gather?t={tenants.beta.schema_name}&node=rating",
                        {"CallSid": params["CallSid"], "Digits": "5"})  # fmt: skip
    assert "went wrong" in reply.content.decode()
    with tenant_context(tenants.alpha):
        assert Call.objects.get(call_sid=params["CallSid"]).script_session.answers == {}


def test_the_callers_card_is_made_once_reused_and_read_for_the_queue(db, tenants, alpha_number):
    """The call, its contact and its first events: a card per valid number, reused, VIP first."""
    from telephony.calls.models import Contact
    from telephony.models import Queue, WaitingCall

    queue, _ = Queue.objects.get_or_create(tenant=tenants.alpha, is_default=True, defaults={"name": "Main"})
    make_operator({queue: 1}, state="wrap_up")  # staffed: callers wait for an operator
    with tenant_context(tenants.alpha):
        Contact.objects.create(phone="+14155550177", first_name="Vera", vip=True)
    _, new_caller = incoming(alpha_number, caller="+14155550166")
    _, again = incoming(alpha_number, caller="+14155550166")
    _, vip = incoming(alpha_number, caller="+14155550177")
    _, anonymous = incoming(alpha_number, caller="anonymous")
    with tenant_context(tenants.alpha):
        calls = {c.call_sid: c for c in Call.objects.select_related("contact")}
        first, second = calls[new_caller["CallSid"]], calls[again["CallSid"]]
        assert first.contact is not None and first.contact == second.contact
        assert Contact.objects.filter(phone="+14155550166").count() == 1
        assert calls[vip["CallSid"]].contact.first_name == "Vera"
        assert calls[anonymous["CallSid"]].contact is None
        assert calls[anonymous["CallSid"]].from_number == "anonymous"
        for call in calls.values():
            assert call.direction == Call.Direction.INBOUND and call.status == Call.Status.RINGING
            assert list(call.events.values_list("kind", flat=True)) == ["incoming", "queued"]
            assert call.events.get(kind="incoming").data == {"From": call.from_number, "To": alpha_number}
    priorities = dict(WaitingCall.objects.values_list("call_sid", "priority"))
    assert priorities[vip["CallSid"]] == 1  # a VIP caller goes first
    assert priorities[new_caller["CallSid"]] == 0


def test_the_call_and_card_of_an_incoming_call_take_the_models_defaults(db, tenants, alpha_number):
    _, params = incoming(alpha_number, caller="+14155550188")
    with tenant_context(tenants.alpha):
        call = Call.objects.select_related("contact").get(call_sid=params["CallSid"])
        for field in Call._meta.concrete_fields:
            if field.attname not in {"id", "contact_id", "call_sid", "from_number", "to_number",
                                     "started_at", "direction", "status", "queue_id", "queue_name",
                                     "queued_at"}:  # fmt: skip
                assert getattr(call, field.attname) == field.get_default(), field.attname
        assert (call.from_number, call.to_number) == ("+14155550188", alpha_number)
        assert call.contact.phone == "+14155550188"
        assert (call.contact.first_name, call.contact.vip, call.contact.notes) == ("", False, "")


def test_a_failing_first_step_keeps_the_call_and_takes_a_message(db, tenants, alpha_number):
    """The database refuses a write halfway through the first step (the call is already marked
    queued): that step's work is undone, the call and its error are kept, a message is taken."""
    from django.db import connection

    from telephony.models import Queue, WaitingCall

    queue, _ = Queue.objects.get_or_create(tenant=tenants.alpha, is_default=True, defaults={"name": "Main"})
    make_operator({queue: 1}, state="wrap_up")  # staffed: callers wait for an operator
    with tenant_context(tenants.alpha), connection.cursor() as cursor:  # undone with the test
        cursor.execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN RAISE EXCEPTION 'refused for the test'; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER refuse_queued BEFORE INSERT ON calls_callevent"
            " FOR EACH ROW WHEN (NEW.kind = 'queued') EXECUTE FUNCTION refuse()"
        )
    response, params = incoming(alpha_number)
    assert response.status_code == 200
    assert verbs(response.content)[:2] == ["Say", "Record"]  # sorry, and a message is taken
    check_twiml(response.content)
    assert not WaitingCall.objects.filter(call_sid=params["CallSid"]).exists()
    with tenant_context(tenants.alpha):
        call = Call.objects.get(call_sid=params["CallSid"])
        assert (call.queued_at, call.queue_name) == (None, "")  # the step's half-done work is undone
        assert list(call.events.values_list("kind", flat=True)) == ["incoming", "flow_error"]
        # The webhook's evidence, undone with the failed step, is kept with the call's error.
        assert WebhookEvidence.objects.filter(call_sid=params["CallSid"]).count() == 1
    again, _ = incoming(alpha_number, sid=params["CallSid"])  # Twilio's retry: still no second call
    with tenant_context(tenants.alpha):
        assert Call.objects.filter(call_sid=params["CallSid"]).count() == 1
    assert verbs(again.content)[:2] == ["Say", "Record"]


@pytest.mark.parametrize("taken_off_hold", [False, True])
def test_a_caller_hanging_up_on_hold_has_that_time_counted_as_hold(db, tenants, alpha_number, taken_off_hold):
    """On hold when they hang up: the time since the hold counts as hold. Taken off hold before:
    nothing more (the call's lock reads the last hold or unhold event with the call)."""
    import datetime as dt

    from django.utils import timezone

    from telephony.calls.records import add_event

    _, params = incoming(alpha_number)
    with tenant_context(tenants.alpha):
        call = Call.objects.get(call_sid=params["CallSid"])
        Call.objects.filter(pk=call.pk).update(answered_at=timezone.now(), hold_seconds=7)
        held_at = timezone.now() - dt.timedelta(seconds=30)
        add_event(call, "hold", at=held_at, by="op")
        if taken_off_hold:
            add_event(call, "unhold", at=held_at + dt.timedelta(seconds=7), by="op", seconds=7)
    response = signed_post(
        "/twilio/voice/status?t=" + tenants.alpha.schema_name,
        {"CallSid": params["CallSid"], "CallStatus": "completed", "CallDuration": "90"},
    )
    assert response.status_code == 204
    with tenant_context(tenants.alpha):
        call = Call.objects.get(pk=call.pk)
        assert call.outcome == Call.Outcome.HANDLED and call.ended_at is not None
        if taken_off_hold:
            assert call.events.filter(kind="unhold").count() == 1  # the operator's, none by the hang-up
            assert call.hold_seconds == 7
            return
        unhold = call.events.get(kind="unhold")
        # The last 30 s on hold, from the hold to the hang-up (however long the request took on a
        # loaded machine), added to the 7 s held earlier.
        assert unhold.data["by"] == "hang-up" and unhold.at == call.ended_at
        assert unhold.data["seconds"] == int((unhold.at - held_at).total_seconds()) >= 30
        assert call.hold_seconds == 7 + unhold.data["seconds"]
