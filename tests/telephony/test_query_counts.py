"""The queries of the busiest webhooks, counted: a change that adds one shows here, on purpose.

Each test lists its queries in order. In these tests the webhook's own transaction runs inside the
test's, so its BEGIN and COMMIT show as a SAVEPOINT and its RELEASE (in production they are not
counted); the hooks run on commit are run when the request is done, outside the company's schema,
hence the last ``SET search_path`` (in production they run at the commit, still in that schema).
Process caches are warm, as they are for all but a process's first calls: the platform host, the
dialled number's company (``webhooks.NUMBERS``), the company's telephony setup
(``telephony.calls.company``), the router's queue rules.
"""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from reporting import webhooks
from telephony import conferences, routing, twiml
from telephony.calls import bridging
from telephony.calls.models import Call, CallEvent, TelephonySettings, WebhookEvidence
from telephony.models import OperatorProfile, Queue, Reservation, WaitingCall
from tests.scripts_engine.conftest import active_script
from tests.telephony.calls_kit import incoming
from tests.telephony.conference_kit import conference_event
from tests.telephony.helpers import make_operator, operator_joined
from tests.twilio_kit import check_twiml, signed_post, verbs


@pytest.fixture
def queue(db, tenants) -> Queue:
    queue, _ = Queue.objects.get_or_create(tenant=tenants.alpha, is_default=True, defaults={"name": "Main"})
    make_operator({queue: 1}, state="wrap_up")  # staffed (else the caller is offered a callback)
    with tenant_context(tenants.alpha):
        TelephonySettings.current()  # made once per company
    return queue


def warm(alpha_number: str, queue: Queue) -> None:
    """One call first: the caches every later call finds filled."""
    incoming(alpha_number)
    routing.rules_for([queue.pk])
    with tenant_context(queue.tenant):
        webhooks.LISTENED.get(queue.tenant.schema_name)  # the company's endpoints listen to nothing


def in_the_webhooks_transaction(queries, table: str) -> bool:
    """Whether a statement inserting into ``table`` ran inside the webhook's transaction (in these
    tests a SAVEPOINT and its RELEASE): written with the call, it costs no commit of its own."""
    sql = [query["sql"] for query in queries.captured_queries]
    begin = next(i for i, s in enumerate(sql) if s.startswith("SAVEPOINT"))
    end = next(i for i, s in enumerate(sql) if s.startswith("RELEASE SAVEPOINT"))
    return any(begin < i < end for i, s in enumerate(sql) if f"INSERT INTO {table} " in s)


def test_an_incoming_call_with_an_operators_script_is_recorded_and_queued(
    db, tenants, queue, alpha_number, django_assert_num_queries, django_capture_on_commit_callbacks
):
    active_script(tenants.alpha, sample="hotline")  # no automatic step: straight to the queue
    warm(alpha_number, queue)
    with django_assert_num_queries(11) as queries, django_capture_on_commit_callbacks(execute=True):
        # (the dialled number's company, from the process cache: no query)
        # SET search_path to the company's schema; SAVEPOINT (the webhook's transaction);
        # the call record in one statement: the number re-checked with the company's status, the
        # caller's card made, the call and its "incoming" event written, the webhook kept as
        # evidence (once per key);
        # INSERT the script run (at its first step); UPDATE the call with its run;
        # the queue's length (counted up to its maximum) and who is staffed for it, one statement;
        # UPDATE the call as queued with its "queued" event (once per key: ON CONFLICT DO
        # NOTHING), one statement; INSERT the call in line (once per CallSid) with the free
        # operators who may take it locked (none), one statement;
        # RELEASE (the webhook's transaction);
        # after the commit: SET search_path public; is anyone free for it (the router).
        response, params = incoming(alpha_number, caller="+14155550123")
    assert verbs(response.content) == ["Say", "Enqueue"]
    assert WaitingCall.objects.get(call_sid=params["CallSid"]).state == WaitingCall.State.WAITING
    assert in_the_webhooks_transaction(queries, "calls_webhookevidence")
    with django_assert_num_queries(11), django_capture_on_commit_callbacks(execute=True):
        # A caller whose card exists: the same statements (the card read instead of made).
        incoming(alpha_number, caller="+14155550123")


def test_an_incoming_call_with_an_ivr_plays_its_first_question(
    db, tenants, queue, alpha_number, django_assert_num_queries, django_capture_on_commit_callbacks
):
    active_script(tenants.alpha, sample="survey", name="Survey IVR")
    warm(alpha_number, queue)
    with django_assert_num_queries(8), django_capture_on_commit_callbacks(execute=True):
        # SET search_path to the company's schema; SAVEPOINT (the webhook's transaction);
        # the call record (number re-checked, card, call, "incoming" event, the webhook as
        # evidence: one statement); INSERT the script run (at its first step);
        # UPDATE the call with its run; UPDATE the call's IVR start; INSERT its "ivr_started" event
        # (once per key); RELEASE (the webhook's transaction).
        response, _ = incoming(alpha_number, caller="+14155550124")
    assert check_twiml(response.content).find("Gather") is not None


def test_an_ivr_answer(db, tenants, queue, alpha_number, django_assert_num_queries):
    active_script(tenants.alpha, sample="survey", name="Survey IVR")
    warm(alpha_number, queue)
    _, params = incoming(alpha_number)
    action = (
        check_twiml(incoming(alpha_number, sid=params["CallSid"])[0].content).find("Gather").get("action")
    )
    with django_assert_num_queries(11):
        # SET search_path public; the company named in the URL; SET search_path to its schema;
        # INSERT the webhook as evidence (once per key); the call with its card and script run;
        # the answer: SAVEPOINT, the run locked, INSERT the answer, UPDATE the run, RELEASE;
        # INSERT the "ivr_answer" event.
        response = signed_post(action, {"CallSid": params["CallSid"], "To": alpha_number, "Digits": "5"})
    assert check_twiml(response.content).find("Gather") is not None


def test_a_wait_url(db, tenants, queue, alpha_number, django_assert_num_queries):
    warm(alpha_number, queue)
    _, params = incoming(alpha_number)
    wait = {"CallSid": params["CallSid"], "To": alpha_number, "QueueTime": "12"}
    signed_post("/twilio/voice/wait?t=t_alpha", wait)  # the queue's mean handle time, kept a minute
    with django_assert_num_queries(4):
        # SET search_path to the company's schema; INSERT the webhook as evidence (once per key);
        # the call with its script run and contact;
        # where the caller stands: the calls ahead, who is staffed on its queue and on the queues
        # it may overflow to, one statement (``sql.WHERE_IN_LINE``; the queue's rules are kept).
        response = signed_post("/twilio/voice/wait?t=t_alpha", wait)
    said = check_twiml(response.content).find("Gather").find("Say").text
    assert said.startswith("You are number 2 in line.")  # the warm-up call waits ahead


def _accepted(alpha_number: str, queue: Queue, capture) -> tuple[OperatorProfile, Reservation, WaitingCall]:
    """A call waits; an operator logs in, is offered it and takes it: the operator, the offer, the
    call in line."""
    warm(alpha_number, queue)
    operator = make_operator({queue: 1})
    with capture(execute=True):
        incoming(alpha_number)  # the operator is offered the call waiting longest
    offer = Reservation.objects.get(operator=operator, state=Reservation.State.OFFERED)
    return operator, offer, routing.accept(reservation_id=offer.pk, operator=operator.user).call


def test_who_took_the_call_is_written_in_one_statement(
    db, tenants, queue, alpha_number, django_assert_num_queries, django_capture_on_commit_callbacks
):
    """As the accept commits: who took the call into its record, with its "accepted" event; not
    over an answer already written (a late accept), once per offer, nothing for a call the company
    does not have."""
    operator, offer, waiting = _accepted(alpha_number, queue, django_capture_on_commit_callbacks)
    with django_assert_num_queries(2):
        # SET search_path to the company's schema; the call's operator and offer with its
        # "accepted" event (once per key), one statement: not a read of the call and a transaction.
        # Who took it is the user the accept locked with the operator (``routing.accept``).
        bridging.record_accept(waiting=waiting, reservation=offer)
    with tenant_context(tenants.alpha):
        call = Call.objects.get(call_sid=waiting.call_sid)
        name = operator.user.get_full_name() or operator.user.username
        assert (call.operator_id, call.operator_name) == (operator.user_id, name)
        assert call.offered_at == offer.offered_at and call.answered_at is None
        assert call.events.get(kind="accepted").data == {"operator": operator.user.username}
        Call.objects.filter(pk=call.pk).update(
            operator_id=None, operator_name="", answered_at=call.started_at
        )
    bridging.record_accept(waiting=waiting, reservation=offer)  # replayed, answered
    with tenant_context(tenants.alpha):
        call.refresh_from_db()
        assert call.operator_id is None and call.events.filter(kind="accepted").count() == 1
    waiting.call_sid = "CA" + "0" * 32  # no such call in the company's schema
    bridging.record_accept(waiting=waiting, reservation=offer)
    with tenant_context(tenants.alpha):
        assert not Call.objects.filter(call_sid=waiting.call_sid).exists()
        assert call.events.filter(kind="accepted").count() == 1


def test_the_operators_join(
    db, tenants, queue, alpha_number, django_assert_num_queries, django_capture_on_commit_callbacks
):
    _, offer, waiting = _accepted(alpha_number, queue, django_capture_on_commit_callbacks)
    with tenant_context(tenants.alpha):
        call = Call.objects.get(call_sid=waiting.call_sid)
        with django_assert_num_queries(6):
            # SAVEPOINT (the join's transaction); the call, locked; the offer they accepted with
            # its call in line and their operator, one statement; who they are, from the
            # platform's user table named with its schema (as it is now, in every process); the
            # call answered with the answer's time on its call in line and its "bridged" event
            # (once per key), one statement; RELEASE. The call in line and the offer are not read
            # again, nor is the public schema entered.
            label = conferences.operator_label(offer.pk)
            assert conferences.participant_joined(call=call, label=label, leg_sid="CA" + "b" * 32)
        assert Call.objects.get(pk=call.pk).answered_at is not None


def test_the_status_callback_of_a_call_hung_up_in_the_queue(
    db, tenants, queue, alpha_number, django_assert_num_queries, django_capture_on_commit_callbacks
):
    warm(alpha_number, queue)
    _, params = incoming(alpha_number)
    status = {"CallSid": params["CallSid"], "To": alpha_number}
    with django_assert_num_queries(10), django_capture_on_commit_callbacks(execute=True):
        # The dialled number's company as this process keeps it (``webhooks.NUMBERS``);
        # SET search_path to the company's schema; INSERT the webhook as evidence (once per key);
        # SAVEPOINT (the callback's transaction);
        # the call, locked, with whether the caller is on hold (their last hold event) and its
        # "status:completed" event recorded (once per key), one statement; the call's outcome
        # (abandoned) with its "outcome" event (once per key), one statement;
        # the router lets the call go, in the callback's transaction (no savepoint): the waiting
        # call locked, its live offer (none), UPDATE it as left;
        # UPDATE the call (status, end, waits: those columns only); RELEASE (the callback's transaction).
        # After the commit, reporting's call.completed receiver reads nothing: the company's
        # endpoints listen to no event, as this process keeps (``webhooks.LISTENED``).
        response = signed_post("/twilio/voice/status", {**status, "CallStatus": "completed"})
    assert response.status_code == 204
    with tenant_context(tenants.alpha):
        assert Call.objects.get(call_sid=params["CallSid"]).outcome == Call.Outcome.ABANDONED


def test_the_status_callback_of_an_answered_call(
    db, tenants, queue, alpha_number, django_assert_num_queries, django_capture_on_commit_callbacks
):
    _, _, waiting = _accepted(alpha_number, queue, django_capture_on_commit_callbacks)
    operator_joined(waiting)
    status = {"CallSid": waiting.call_sid, "To": alpha_number, "CallDuration": "30"}
    with django_assert_num_queries(13), django_capture_on_commit_callbacks(execute=True):
        # The dialled number's company as this process keeps it (``webhooks.NUMBERS``);
        # SET search_path to the company's schema; INSERT the webhook as evidence (once per key);
        # SAVEPOINT (the callback's transaction);
        # the call, locked, with whether the caller is on hold (their last hold event) and its
        # "status:completed" event recorded (once per key), one statement; the call's outcome
        # (handled) with its "outcome" event (once per key), one statement;
        # the router lets the call go (``routing.leave``, in the callback's transaction: no
        # savepoint): the waiting call locked, its live reservation locked, the operator locked,
        # UPDATE the reservation as completed; the operator to wrap-up (``operators.transition``):
        # their state and its event, one statement; UPDATE the waiting call as left;
        # UPDATE the call (status, end, talk time: those columns only); RELEASE (the callback's
        # transaction). After the commit, reporting's call.completed receiver reads nothing: the
        # company's endpoints listen to no event, as this process keeps (``webhooks.LISTENED``).
        response = signed_post("/twilio/voice/status", {**status, "CallStatus": "completed"})
    assert response.status_code == 204
    with tenant_context(tenants.alpha):
        assert Call.objects.get(call_sid=waiting.call_sid).outcome == Call.Outcome.HANDLED


def test_a_conference_callback_is_read_kept_and_recorded_in_one_statement(
    db, tenants, queue, alpha_number, django_assert_num_queries
):
    """The caller's join (four such callbacks a call: the joins, the end, the operator's leg): the
    call read, the webhook kept and its event recorded in one statement; a replay writes nothing
    again; a call the company does not have: nothing written."""
    warm(alpha_number, queue)
    _, params = incoming(alpha_number)
    with tenant_context(tenants.alpha):
        call = Call.objects.get(call_sid=params["CallSid"])
        callback = "https://localhost" + twiml.url("twilio-conference", c=call.pk)
        missing = "https://localhost" + twiml.url("twilio-conference", c=call.pk + 1000)
        kept = WebhookEvidence.objects.count()
    joined = {"CallSid": call.call_sid, "ParticipantLabel": twiml.CALLER_LABEL, "SequenceNumber": "7"}
    conference_event(missing, "participant-join", **joined)  # a call this company does not have
    with tenant_context(tenants.alpha):
        assert WebhookEvidence.objects.count() == kept  # nothing written
    with django_assert_num_queries(2):
        # (the company named by ``t``, from the process cache: no query)
        # SET search_path to the company's schema; the call, the webhook kept as evidence and its
        # "conference:participant-join" event (each once per key), one statement. The caller's
        # join asks nothing more.
        response = conference_event(callback, "participant-join", **joined)
    assert response.status_code == 204
    conference_event(callback, "participant-join", **joined)  # Twilio's retry: the same request
    with tenant_context(tenants.alpha):
        event = CallEvent.objects.get(call=call, kind="conference:participant-join")
        assert event.data["label"] == twiml.CALLER_LABEL and event.data["call_sid"] == call.call_sid
        assert (
            event.dedupe_key == f"{call.call_sid}:conference:CF{'c' * 32}:7:participant-join:{call.call_sid}"
        )
        assert event.at == WebhookEvidence.objects.latest("pk").received_at
        assert WebhookEvidence.objects.count() == kept + 1  # once, though posted twice
        assert WebhookEvidence.objects.filter(url__endswith=f"&c={call.pk}").count() == 1
